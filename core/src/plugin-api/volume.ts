import type { Labels } from './graph-driver.js';

export interface VolumeInfo {
  name: string;
  driver: string;
  mountpoint: string;
  createdAt: Date;
  scope: 'local' | 'global';
  labels: Labels;
  options: Labels;
}

export interface VolumeDriver {
  readonly name: string;
  capabilities(): { scope: 'local' | 'global' };
  create(name: string, opts: Labels, labels: Labels): Promise<VolumeInfo>;
  get(name: string): Promise<VolumeInfo>;
  list(): Promise<VolumeInfo[]>;
  /** ConflictError while mounted. */
  remove(name: string): Promise<void>;
  /** Reference-counted per caller. */
  mount(name: string, callerId: string): Promise<{ path: string }>;
  unmount(name: string, callerId: string): Promise<void>;
  /** Bytes the volume holds (`docker system df`), for drivers that can tell; NotFoundError if none. */
  usage?(name: string): Promise<number>;
}
