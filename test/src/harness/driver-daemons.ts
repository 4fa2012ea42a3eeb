import { docker } from './clients.js';
import { type Daemon, type StorageDriverName, startDaemon } from './daemon.js';
import { type BusyboxRegistry, registryWithBusybox } from './fixture.js';

/**
 * For a test file: one registry with busybox, and one skiffd per storage driver with the image
 * pulled, each started on first use (so a driver that cannot start fails only its own tests).
 */
export function driverDaemons(opts: { prepareRegistry?: (r: BusyboxRegistry) => Promise<void> } = {}) {
  let registryP: Promise<BusyboxRegistry> | undefined;
  const registry = () => {
    registryP ??= registryWithBusybox().then(async (r) => {
      await opts.prepareRegistry?.(r);
      return r;
    });
    return registryP;
  };
  const started: Daemon[] = [];
  const daemons = new Map<StorageDriverName, Promise<Daemon>>();
  const daemonFor = (driver: StorageDriverName): Promise<Daemon> => {
    let p = daemons.get(driver);
    if (!p) {
      p = (async () => {
        const reg = await registry();
        const d = await startDaemon({ storageDriver: driver, insecureRegistries: [reg.host] });
        started.push(d);
        const pull = await docker(['pull', reg.image], { host: d.dockerHost });
        if (pull.code !== 0) {
          throw new Error(`docker pull ${reg.image} exited ${pull.code}: ${pull.stderr}\n--- skiffd:\n${d.output()}`);
        }
        return d;
      })();
      daemons.set(driver, p);
    }
    return p;
  };
  const stopAll = async () => {
    await Promise.all(started.map((d) => d.stop()));
    if (registryP) await (await registryP.catch(() => undefined))?.stop();
  };
  return { registry, daemonFor, stopAll };
}
