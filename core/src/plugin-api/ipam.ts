import type { IpamPool } from './network-driver.js';

export interface IpamDriver {
  readonly name: string;
  /**
   * `pool` is a subnet the user asked for (else one from the default pools that overlaps neither
   * `exclude`, other pools nor the host's routes); `range` (inside `pool`) is where addresses come from.
   */
  requestPool(req: {
    pool?: string;
    range?: string;
    gateway?: string;
    v6: boolean;
    exclude?: string[];
  }): Promise<IpamPool>;
  releasePool(poolId: string): Promise<void>;
  /** A CIDR address; `preferred` must be honoured or fail with ConflictError. */
  requestAddress(poolId: string, opts?: { preferred?: string }): Promise<string>;
  releaseAddress(poolId: string, address: string): Promise<void>;
}
