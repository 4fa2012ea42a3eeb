import { type FSWatcher, watch } from 'node:fs';

/**
 * One inotify watch (fs.watch) on conmon's exit directory, shared by every waiter of this
 * runtime. conmon writes `<dir>/<id>` with g_file_set_contents (temp file + rename), so the
 * final name appears atomically with its content. Listeners are told "something about <id>
 * changed" and re-check the file themselves. The watch exists only while someone waits.
 */
export class ExitWatcher {
  private watcher: FSWatcher | undefined;
  private readonly listeners = new Map<string, Set<() => void>>();

  constructor(private readonly dir: string) {}

  /** Calls `fn` whenever `<dir>/<id>` may have appeared. Returns the unsubscribe function. */
  subscribe(id: string, fn: () => void): () => void {
    const set = this.listeners.get(id) ?? new Set<() => void>();
    this.listeners.set(id, set);
    set.add(fn);
    this.ensureWatching();
    return () => {
      const s = this.listeners.get(id);
      if (!s) return;
      s.delete(fn);
      if (s.size === 0) this.listeners.delete(id);
      if (this.listeners.size === 0) this.stop();
    };
  }

  private ensureWatching(): void {
    if (this.watcher) return;
    const w = watch(this.dir, { persistent: true }, (_event, filename) => {
      if (filename === null) return this.notifyAll();
      const name = filename.toString();
      const set = this.listeners.get(name);
      if (set) for (const fn of [...set]) fn();
    });
    w.on('error', () => {
      // The watch broke (directory removed, inotify limit): start over and let everyone re-check.
      if (this.watcher === w) this.watcher = undefined;
      w.close();
      if (this.listeners.size > 0) {
        try {
          this.ensureWatching();
        } catch {
          // Cannot watch any more; waiters still re-check below.
        }
        this.notifyAll();
      }
    });
    this.watcher = w;
  }

  private notifyAll(): void {
    for (const set of [...this.listeners.values()]) for (const fn of [...set]) fn();
  }

  private stop(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  close(): void {
    this.listeners.clear();
    this.stop();
  }
}
