import { type Readable, Transform } from 'node:stream';
import { InvalidParameterError } from '../plugin-api/errors.js';

/** dockerd's default detach sequence: ctrl-p, ctrl-q. */
export const DEFAULT_DETACH_KEYS = Buffer.from([16, 17]);

/**
 * A detach-keys string (`ctrl-p,ctrl-q`, `ctrl-x,y`, `a,DEL`) as bytes, by moby/term's ToBytes:
 * comma-separated single characters, `ctrl-@` … `ctrl-z`, `ctrl-[`, `ctrl-\`, `ctrl-]`, `ctrl-^`,
 * `ctrl-_` (lower case, as moby spells them) and `DEL`. Throws on anything else.
 */
export function parseDetachKeys(keys: string): Buffer {
  const out: number[] = [];
  for (const key of keys.split(',')) {
    if (Buffer.byteLength(key) === 1) {
      out.push(key.charCodeAt(0));
      continue;
    }
    const ctrl = /^ctrl-([@a-z[\\\]^_])$/.exec(key);
    if (ctrl) out.push(ctrl[1]!.charCodeAt(0) & 0x1f);
    else if (key === 'DEL') out.push(127);
    else throw new Error(`Unknown character: '${key}'`);
  }
  return Buffer.from(out);
}

/** The sequence of an attach (`detachKeys` query), as dockerd checks it: 400 when unparsable. */
export function attachDetachKeys(query: string | null | undefined, fallback: Buffer = DEFAULT_DETACH_KEYS): Buffer {
  if (!query) return fallback;
  try {
    return parseDetachKeys(query);
  } catch {
    throw new InvalidParameterError(`Invalid detach keys (${query}) provided`);
  }
}

/** An exec's `DetachKeys` (exec create), as dockerd checks it. */
export function execDetachKeys(keys: string, fallback: Buffer = DEFAULT_DETACH_KEYS): Buffer {
  if (!keys) return fallback;
  try {
    return parseDetachKeys(keys);
  } catch {
    throw new InvalidParameterError(`Invalid escape keys (${keys}) provided`);
  }
}

/**
 * Finds a detach sequence in a byte stream that arrives in chunks of any size (a terminal sends a
 * key per write; a paste or a raw API client sends them together). Bytes that start the sequence
 * are held back until it is complete or broken; a broken prefix is forwarded unchanged.
 */
export class EscapeScanner {
  private held: number[] = [];
  private found = false;

  constructor(private readonly keys: Buffer) {}

  get detached(): boolean {
    return this.found;
  }

  /** What to forward of `chunk`; after the sequence, nothing more is ever forwarded. */
  push(chunk: Buffer): Buffer {
    if (this.found || this.keys.length === 0) return this.found ? Buffer.alloc(0) : chunk;
    const out: number[] = [];
    for (const b of chunk) {
      this.held.push(b);
      // Drop from the front until what is held is again a prefix of the sequence.
      while (this.held.length > 0 && !this.isPrefix()) out.push(this.held.shift()!);
      if (this.held.length === this.keys.length) {
        this.found = true;
        this.held = [];
        break;
      }
    }
    return Buffer.from(out);
  }

  private isPrefix(): boolean {
    for (let i = 0; i < this.held.length; i++) if (this.held[i] !== this.keys[i]) return false;
    return true;
  }
}

/**
 * Stdin of a TTY attach or exec with the detach sequence filtered out (dockerd looks for it only
 * with a TTY). When the sequence arrives, what preceded it is forwarded, the source is unpiped and
 * `onDetach(true)` runs once. The client's half-close ends the attach too (`onDetach(false)`), as
 * in dockerd's copyEscapable. Either way the container's stdin stays open: with a TTY, dockerd
 * never closes it for a client (so `docker attach` works again after a detach of `docker run -it`).
 */
export function detachableStdin(source: Readable, keys: Buffer, onDetach: (escaped: boolean) => void): Transform {
  const scanner = new EscapeScanner(keys);
  let done = false;
  const finish = (escaped: boolean) => {
    if (done) return;
    done = true;
    setImmediate(() => onDetach(escaped));
  };
  const out = new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (scanner.detached) return done();
      const forward = scanner.push(chunk);
      if (forward.length > 0) this.push(forward);
      if (scanner.detached) {
        source.unpipe(out);
        finish(true);
      }
      done();
    },
  });
  out.pause();
  source.pipe(out, { end: false });
  source.once('end', () => finish(false));
  return out;
}
