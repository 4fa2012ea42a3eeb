import type { DatabaseSync } from 'node:sqlite';

/** What one storage driver holds in a data root. */
export interface StorageDriverData {
  driver: string;
  images: number;
  containers: number;
}

/** The storage drivers that hold images or containers in this data root, with their counts. */
export function storageDriverData(db: DatabaseSync): StorageDriverData[] {
  const byDriver = new Map<string, StorageDriverData>();
  const count = (table: 'images' | 'containers') => {
    const rows = db.prepare(`SELECT driver, COUNT(*) AS n FROM ${table} GROUP BY driver`).all() as {
      driver: string;
      n: number;
    }[];
    for (const { driver, n } of rows) {
      const d = byDriver.get(driver) ?? { driver, images: 0, containers: 0 };
      d[table] = n;
      byDriver.set(driver, d);
    }
  };
  count('images');
  count('containers');
  return [...byDriver.values()];
}

/** Starting with another storage driver than the one holding the data root's images and containers. */
export class StorageSwitchError extends Error {
  override name = 'StorageSwitchError';
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * The storage driver to start with. Unset in the config: the driver that already holds this data
 * root's images and containers when it is available (dockerd's prior-driver rule), else the first
 * available of `preference`. A driver other than the holder is refused unless `allowSwitch`
 * (then, as dockerd, the holder's images and containers stay aside until it is used again).
 */
export function chooseStorageDriver(opts: {
  configured: string | undefined;
  available: readonly string[];
  preference: readonly string[];
  data: readonly StorageDriverData[];
  allowSwitch: boolean;
}): string | undefined {
  const { configured, available, preference, data, allowSwitch } = opts;
  const holders = data.filter((d) => d.images + d.containers > 0);
  const prior = holders.length === 1 && available.includes(holders[0]!.driver) ? holders[0]!.driver : undefined;
  const chosen = configured ?? prior ?? preference.find((n) => available.includes(n)) ?? available[0];
  if (chosen === undefined || allowSwitch) return chosen;
  const other = holders.find((h) => h.driver !== chosen);
  if (other) {
    const what = [
      ...(other.images ? [plural(other.images, 'image')] : []),
      ...(other.containers ? [plural(other.containers, 'container')] : []),
    ].join(' and ');
    throw new StorageSwitchError(
      `storage driver "${chosen}" cannot take over: this data root holds ${what} of storage driver "${other.driver}". ` +
        `Start with "storage-driver": "${other.driver}" and remove them first (docker rm -f, docker image prune -a), ` +
        `or set "allow-storage-driver-switch": true to keep them aside as dockerd does (they are back when "${other.driver}" is used again)`,
    );
  }
  return chosen;
}
