// Synthetic engine data: the dashboard's unit tests and the 1,000-container benchmark feed it to the real store and views.

import type { ContainerSummary, ImageSummary, NetworkSummary, VolumeSummary } from './types.js';

const STATES = ['running', 'exited', 'running', 'paused', 'created'];

export function syntheticContainers(n: number, opts: { projects?: number; seed?: number } = {}): ContainerSummary[] {
  const projects = opts.projects ?? 0;
  const out: ContainerSummary[] = [];
  for (let i = 0; i < n; i++) {
    const state = STATES[(i + (opts.seed ?? 0)) % STATES.length] ?? 'running';
    const labels: Record<string, string> = {};
    if (projects > 0 && i % 3 !== 0) {
      labels['com.docker.compose.project'] = `proj${i % projects}`;
      labels['com.docker.compose.service'] = `svc${i % 7}`;
    }
    out.push({
      Id: `${i.toString(16).padStart(8, '0')}${'a'.repeat(56)}`,
      Names: [`/ctr-${String(i).padStart(4, '0')}`],
      Image: `registry.local/app${i % 5}:v${i % 3}`,
      State: state,
      Status: state === 'running' ? `Up ${i % 60} minutes` : state === 'exited' ? 'Exited (0) 2 hours ago' : state,
      Created: 1_700_000_000 + i * 60,
      Labels: labels,
      Ports: i % 4 === 0 ? [{ IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8000 + i, Type: 'tcp' }] : [],
    });
  }
  return out;
}

export function syntheticImages(n: number): ImageSummary[] {
  return Array.from({ length: n }, (_, i) => ({
    Id: `sha256:${i.toString(16).padStart(64, 'b')}`,
    RepoTags: [`registry.local/img${i}:latest`],
    Created: 1_700_000_000 + i,
    Size: 1_000_000 * (i + 1),
    Containers: i % 2,
  }));
}

export function syntheticVolumes(n: number): VolumeSummary[] {
  return Array.from({ length: n }, (_, i) => ({ Name: `vol${i}`, Driver: 'local' }));
}

export function syntheticNetworks(n: number): NetworkSummary[] {
  return Array.from({ length: n }, (_, i) => ({
    Id: i.toString(16).padStart(64, 'c'),
    Name: `net${i}`,
    Driver: 'bridge',
    Scope: 'local',
  }));
}
