import type { IpamPool } from './network-driver.js';

export interface IpamDriver {
  readonly name: string;
  requestPool(req: { pool?: string; gateway?: string; v6: boolean; exclude?: string[] }): Promise<IpamPool>;
  releasePool(poolId: string): Promise<void>;
  /** A CIDR address; `preferred` must be honoured or fail with ConflictError. */
  requestAddress(poolId: string, opts?: { preferred?: string }): Promise<string>;
  releaseAddress(poolId: string, address: string): Promise<void>;
}
