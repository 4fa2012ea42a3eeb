// Runs a program in a pseudo-terminal (util-linux `script`) and reads its screen through a real
// VT parser (@xterm/headless), for end-to-end tests of full-screen terminal programs.

import { type ChildProcess, spawn } from 'node:child_process';
import xterm from '@xterm/headless';

const { Terminal } = xterm;

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface PtyScreen {
  /** The visible screen, one string per row (trailing spaces trimmed). */
  lines(): string[];
  text(): string;
  /** Rows that contain a cell drawn in inverse video (the selection). */
  inverseRows(): string[];
  /** Sends bytes to the program as typed keys. */
  write(data: string): void;
  /** Waits until `pattern` matches the screen text; throws with the screen on timeout. */
  waitFor(pattern: RegExp | ((screen: string) => boolean), timeoutMs?: number): Promise<void>;
  /** Whether the terminal is still in the alternate screen buffer. */
  alternate(): boolean;
  /** All bytes the program wrote. */
  raw(): string;
  exited: Promise<number | null>;
  kill(): void;
}

export function spawnPty(
  argv: readonly string[],
  opts: { cols: number; rows: number; env?: NodeJS.ProcessEnv },
): PtyScreen {
  const term = new Terminal({ cols: opts.cols, rows: opts.rows, allowProposedApi: true });
  const command = `stty rows ${opts.rows} cols ${opts.cols}; exec ${argv.map(shellQuote).join(' ')}`;
  const child: ChildProcess = spawn('script', ['-qfec', command, '/dev/null'], {
    env: { ...process.env, TERM: 'xterm-256color', ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let raw = '';
  child.stdout?.on('data', (d: Buffer) => {
    raw += d.toString('utf8');
    term.write(d);
  });
  child.stderr?.on('data', (d: Buffer) => {
    raw += d.toString('utf8');
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lines = (): string[] => {
    const buf = term.buffer.active;
    const out: string[] = [];
    for (let y = 0; y < term.rows; y++) out.push(buf.getLine(buf.viewportY + y)?.translateToString(true) ?? '');
    return out;
  };
  // xterm parses writes asynchronously: flush before reading.
  const settle = (): Promise<void> => new Promise((resolve) => term.write('', resolve));
  return {
    lines,
    text: () => lines().join('\n'),
    inverseRows: () => {
      const buf = term.buffer.active;
      const rows: string[] = [];
      for (let y = 0; y < term.rows; y++) {
        const line = buf.getLine(buf.viewportY + y);
        if (!line) continue;
        for (let x = 0; x < term.cols; x++) {
          if (line.getCell(x)?.isInverse()) {
            rows.push(line.translateToString(true));
            break;
          }
        }
      }
      return rows;
    },
    write: (data) => {
      child.stdin?.write(data);
    },
    async waitFor(pattern, timeoutMs = 30_000) {
      const test = typeof pattern === 'function' ? pattern : (s: string) => pattern.test(s);
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        await settle();
        const screen = lines().join('\n');
        if (test(screen)) return;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${String(pattern)}; screen:\n${screen}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    alternate: () => term.buffer.active.type === 'alternate',
    raw: () => raw,
    exited,
    kill: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
