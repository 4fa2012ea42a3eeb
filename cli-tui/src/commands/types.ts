// What every command gets and provides.

import type { Readable, Writable } from 'node:stream';
import type { ApiClient } from '../api/client.js';
import type { FlagSpec, ParsedArgs } from '../cli/args.js';

export type OutStream = Writable & { isTTY?: boolean; columns?: number; rows?: number };
export type InStream = Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };

export interface Streams {
  stdin: InStream;
  stdout: OutStream;
  stderr: OutStream;
}

/** Process-level hooks (signals, terminal resize); tests pass a stand-in EventEmitter. */
export interface ProcessHooks {
  on(event: 'SIGINT' | 'SIGTERM' | 'SIGWINCH', listener: () => void): unknown;
  off(event: 'SIGINT' | 'SIGTERM' | 'SIGWINCH', listener: () => void): unknown;
}

export interface CommandContext {
  streams: Streams;
  env: NodeJS.ProcessEnv;
  client: ApiClient;
  hooks: ProcessHooks;
  /** Program name used in messages ("skiff"). */
  program: string;
  /** Milliseconds since the epoch (injectable for tests of relative times). */
  now(): number;
}

export interface ArgRule {
  min?: number;
  max?: number;
}

export interface Command {
  name: string;
  /** e.g. "run [OPTIONS] IMAGE [COMMAND] [ARG...]" */
  usage: string;
  summary: string;
  flags: FlagSpec[];
  /** false: flags stop at the first positional argument. */
  interspersed: boolean;
  args: ArgRule;
  run(ctx: CommandContext, parsed: ParsedArgs): Promise<number>;
}

export function writeLine(out: Writable, text = ''): void {
  out.write(`${text}\n`);
}
