import { type FSWatcher, statSync, watch } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { LogEntry, LogOptions } from '@skiff/core/plugin-api';
import { countEntries, EntryAssembler, RecordReader, tailOffset } from './k8s-log.js';
import { rotatedPath } from './log-files.js';

/** Where `tail: 0` starts: the current file as it is when logs() is called. */
export interface LogMark {
  ino: number;
  size: number;
}

function isErrno(e: unknown, ...codes: string[]): boolean {
  return codes.includes((e as NodeJS.ErrnoException | undefined)?.code ?? '');
}

async function openIfExists(path: string): Promise<FileHandle | undefined> {
  try {
    return await open(path, 'r');
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return undefined;
    throw e;
  }
}

/** Taken synchronously, so that "from now" is the moment of the call, not of the first read. */
export function markNow(logPath: string): LogMark {
  try {
    const st = statSync(logPath);
    return { ino: st.ino, size: st.size };
  } catch {
    return { ino: -1, size: 0 };
  }
}

interface Source {
  fh: FileHandle;
  ino: number;
  start: number;
}

/**
 * The files to read, oldest first, each with where to start: the rotated files `<log>.N … <log>.1`
 * and the current one, cut down to the last `tail` entries across them. A rotation racing the
 * listing can show one file under two names: it is read once.
 */
async function openSources(logPath: string, tail: number | undefined, mark: LogMark | undefined): Promise<Source[]> {
  const newestFirst: Source[] = [];
  const seen = new Set<number>();
  try {
    for (let n = 0; ; n++) {
      const fh = await openIfExists(rotatedPath(logPath, n));
      if (!fh) {
        // No current file (yet, or between a rotation and the reopen): older ones may still exist.
        if (n === 0 && !mark) continue;
        break;
      }
      const st = await fh.stat();
      if (seen.has(st.ino)) {
        await fh.close();
        continue;
      }
      seen.add(st.ino);
      newestFirst.push({ fh, ino: st.ino, start: 0 });
      if (mark) {
        // From now on: only the current file, from where it ended at the mark.
        if (st.ino === mark.ino) newestFirst[0]!.start = Math.min(mark.size, st.size);
        break;
      }
      if (tail === undefined) continue;
      const off = await tailOffset(fh, st.size, tail);
      if (off > 0) {
        newestFirst.at(-1)!.start = off;
        break;
      }
      tail -= await countEntries(fh);
      if (tail <= 0) break;
    }
  } catch (e) {
    await Promise.all(newestFirst.map((s) => s.fh.close()));
    throw e;
  }
  return newestFirst.reverse();
}

/**
 * Reads a task's log across its rotated files in order; with `follow`, keeps reading the current
 * file, moves on to the new one when the log is rotated (after draining the old one), and ends once
 * `exited` settles and everything written is read. inotify on the log's directory wakes it.
 */
export async function* readLogFiles(
  logPath: string,
  opts: LogOptions,
  mark: LogMark | undefined,
  exited: (signal: AbortSignal) => Promise<unknown>,
): AsyncGenerator<LogEntry> {
  const outer = opts.signal;
  if (outer?.aborted) return;
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  outer?.addEventListener('abort', onAbort, { once: true });
  let watcher: FSWatcher | undefined;
  let wake: (() => void) | undefined;
  let dirty = false;
  let done = false;
  const poke = () => {
    dirty = true;
    const w = wake;
    wake = undefined;
    w?.();
  };
  const name = basename(logPath);
  let sources: Source[] = [];
  let current: Source | undefined;
  try {
    if (opts.follow) {
      watcher = watch(dirname(logPath), { persistent: false }, (_e, file) => {
        if (file === null || file === name) poke();
      });
      watcher.on('error', poke);
      ac.signal.addEventListener('abort', poke, { once: true });
      exited(ac.signal).then(
        () => {
          done = true;
          poke();
        },
        () => {
          if (ac.signal.aborted) return;
          done = true;
          poke();
        },
      );
    }
    sources = await openSources(logPath, opts.tail, mark);
    const assembler = new EntryAssembler();
    // The rotated files, oldest first: complete, read once.
    while (sources.length > 1) {
      const s = sources.shift()!;
      const entries = await new RecordReader(s.fh, s.start).readAvailable(assembler, false);
      await s.fh.close();
      for (const e of entries) {
        if (ac.signal.aborted) return;
        yield e;
      }
    }
    current = sources.shift();
    let reader = current ? new RecordReader(current.fh, current.start) : undefined;
    for (;;) {
      if (ac.signal.aborted) return;
      dirty = false;
      const final = done;
      if (reader) {
        for (const e of await reader.readAvailable(assembler)) {
          if (ac.signal.aborted) return;
          yield e;
        }
      }
      if (!opts.follow) return;
      // Rotated (or first created) meanwhile: the old file gets no more writes once the new one
      // exists, so finish it and go on with the new one from its start.
      const st = await stat(logPath).catch(() => undefined);
      if (st && st.ino !== current?.ino) {
        const next = await openIfExists(logPath);
        if (next) {
          if (reader) {
            for (const e of await reader.readAvailable(assembler)) {
              if (ac.signal.aborted) return;
              yield e;
            }
          }
          await current?.fh.close();
          current = { fh: next, ino: (await next.stat()).ino, start: 0 };
          reader = new RecordReader(next, 0);
          continue;
        }
      }
      if (final) return;
      if (!dirty && !done && !ac.signal.aborted) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    }
  } finally {
    outer?.removeEventListener('abort', onAbort);
    ac.abort();
    watcher?.close();
    await Promise.all([...sources, ...(current ? [current] : [])].map((s) => s.fh.close().catch(() => {})));
  }
}
