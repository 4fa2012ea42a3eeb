// The Engine API shapes the dashboard reads (only the fields it uses).

export interface PortSummary {
  IP?: string;
  PrivatePort: number;
  PublicPort?: number;
  Type: string;
}

export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  State: string;
  Status: string;
  Created: number;
  Labels?: Record<string, string> | null;
  Ports?: PortSummary[] | null;
}

export interface ImageSummary {
  Id: string;
  RepoTags?: string[] | null;
  Created: number;
  Size: number;
  Containers?: number;
}

export interface VolumeSummary {
  Name: string;
  Driver: string;
  Mountpoint?: string;
  CreatedAt?: string;
  Labels?: Record<string, string> | null;
}

export interface NetworkSummary {
  Id: string;
  Name: string;
  Driver: string;
  Scope: string;
  Created?: string;
}

export interface EngineEvent {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  time?: number;
  timeNano?: number;
  status?: string;
  id?: string;
  from?: string;
}

export type PanelId = 'containers' | 'images' | 'volumes' | 'networks' | 'events' | 'engine';

export const LIST_PANELS = ['containers', 'images', 'volumes', 'networks'] as const;
export type ListPanelId = (typeof LIST_PANELS)[number];

export const PANELS: readonly PanelId[] = ['containers', 'images', 'volumes', 'networks', 'events', 'engine'];

export const PANEL_TITLES: Record<PanelId, string> = {
  containers: 'Containers',
  images: 'Images',
  volumes: 'Volumes',
  networks: 'Networks',
  events: 'Events',
  engine: 'Engine',
};

export function isListPanel(panel: PanelId): panel is ListPanelId {
  return (LIST_PANELS as readonly string[]).includes(panel);
}

export type ContainerTab = 'logs' | 'stats' | 'env' | 'inspect' | 'top';
export type Tab = ContainerTab | 'inspect';

export function tabsFor(panel: PanelId): readonly Tab[] {
  if (panel === 'containers') return ['logs', 'stats', 'env', 'inspect', 'top'];
  if (isListPanel(panel)) return ['inspect'];
  return [];
}

export const TAB_TITLES: Record<Tab, string> = {
  logs: 'Logs',
  stats: 'Stats',
  env: 'Env',
  inspect: 'Inspect',
  top: 'Top',
};
