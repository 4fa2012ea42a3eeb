// skiff run: docker's sequence — create (404 ⇒ pull, create again), attach (hijack),
// wait registered before start, start, stream output, exit with the container's code.

import { type FileHandle, open, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { type HijackedStream, hijackedChunks } from '../api/client.js';
import { ApiError } from '../api/errors.js';
import { readJSONStream } from '../api/json-stream.js';
import { copyRawStream, demuxStream } from '../api/stdcopy.js';
import { StatusError } from '../cli/errors.js';
import { familiarString, InvalidReferenceError, parseNormalizedNamed, tagNameOnly } from '../format/reference.js';
import { pullImage } from './pull.js';
import { describeError } from './report.js';
import { enterRawMode } from './session.js';
import { buildRunOptions, RUN_FLAGS, type RunOptions, RunOptionsError, startErrorExitCode } from './run-options.js';
import type { Command, CommandContext } from './types.js';

interface CreateResponse {
  Id: string;
  Warnings?: string[] | null;
}

interface WaitResponse {
  StatusCode: number;
  Error?: { Message?: string } | null;
}

/** ctrl-p ctrl-q, docker's default detach sequence. */
const DETACH_KEYS = [0x10, 0x11];

function runFailure(ctx: CommandContext, code: number, message: string): StatusError {
  return new StatusError(code, `${ctx.program}: ${message}\n\nRun '${ctx.program} run --help' for more information`);
}

export async function createContainer(ctx: CommandContext, opts: RunOptions): Promise<CreateResponse> {
  const cid = opts.cidFile ? await openCidFile(opts.cidFile) : undefined;
  const create = (): Promise<CreateResponse> =>
    ctx.client.json<CreateResponse>('POST', '/containers/create', {
      // Go's url.Values.Encode sorts the keys: name before platform.
      query: { name: opts.name, platform: opts.platform },
      body: opts.config,
    });
  const pull = (): Promise<void> =>
    pullImage(ctx, tagNameOnly(parseNormalizedNamed(opts.image)), ctx.streams.stderr, false, opts.platform);
  try {
    if (opts.pull === 'always') await pull();
    let created: CreateResponse;
    try {
      created = await create();
    } catch (err) {
      if (!(err instanceof ApiError) || !err.isNotFound || opts.pull !== 'missing') throw err;
      const ref = tagNameOnly(parseNormalizedNamed(opts.image));
      ctx.streams.stderr.write(`Unable to find image '${familiarString(ref)}' locally\n`);
      await pull();
      created = await create();
    }
    await cid?.write(created.Id);
    return created;
  } catch (err) {
    await cid?.discard();
    throw err;
  }
}

/** --cidfile: made before the create (refused if it exists), filled with the ID, removed on failure. */
async function openCidFile(file: string): Promise<{ write(id: string): Promise<void>; discard(): Promise<void> }> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'wx', 0o666);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      throw new Error(`container ID file found, make sure the other container isn't running or delete ${file}`, {
        cause: err,
      });
    }
    throw new Error(`failed to create the container ID file: ${(err as Error).message}`, { cause: err });
  }
  let written = false;
  return {
    async write(id) {
      await handle.writeFile(id);
      await handle.close();
      written = true;
    },
    async discard() {
      if (written) return;
      await handle.close().catch(() => undefined);
      await rm(file, { force: true });
    },
  };
}

async function readWaitResult(res: IncomingMessage): Promise<WaitResponse> {
  for await (const value of readJSONStream<WaitResponse>(res)) return value;
  throw new Error('unexpected EOF while waiting for the container to exit');
}

/** Forwards stdin to the attach socket, then half-closes it; watches for detach keys on a TTY. */
function pipeStdin(ctx: CommandContext, socket: Socket, watchDetach: boolean, onDetach: () => void): () => void {
  const stdin = ctx.streams.stdin;
  let pending = false; // saw ctrl-p, waiting for the next byte
  const onData = (chunk: Buffer): void => {
    let data = chunk;
    if (watchDetach) {
      const out: number[] = [];
      for (const byte of chunk) {
        if (pending) {
          pending = false;
          if (byte === DETACH_KEYS[1]) {
            onDetach();
            return;
          }
          out.push(DETACH_KEYS[0] as number);
        }
        if (byte === DETACH_KEYS[0]) pending = true;
        else out.push(byte);
      }
      data = Buffer.from(out);
    }
    if (data.length > 0 && !socket.write(data)) {
      stdin.pause();
      socket.once('drain', () => stdin.resume());
    }
  };
  const onEnd = (): void => {
    socket.end();
  };
  stdin.on('data', onData);
  stdin.once('end', onEnd);
  stdin.resume();
  return () => {
    stdin.off('data', onData);
    stdin.off('end', onEnd);
    stdin.pause();
  };
}

async function resize(ctx: CommandContext, id: string): Promise<void> {
  const { rows, columns } = ctx.streams.stdout;
  if (!rows || !columns) return;
  try {
    const res = await ctx.client.request('POST', `/containers/${id}/resize`, { query: { h: rows, w: columns } });
    res.resume();
  } catch {
    // a failed resize is not worth failing the run for
  }
}

async function runContainer(ctx: CommandContext, opts: RunOptions): Promise<number> {
  const { streams, client } = ctx;
  const cleanups: (() => void)[] = [];
  try {
    let created: CreateResponse;
    try {
      created = await createContainer(ctx, opts);
    } catch (err) {
      throw runFailure(ctx, 125, describeError(err));
    }
    const id = created.Id;
    for (const warning of created.Warnings ?? []) streams.stderr.write(`WARNING: ${warning}\n`);
    if (opts.detach) streams.stdout.write(`${id}\n`);

    let hijacked: HijackedStream | undefined;
    let output: Promise<unknown> = Promise.resolve();
    let detached = false;
    let detach: () => void = () => {};
    const detachedSignal = new Promise<void>((resolve) => {
      detach = () => {
        detached = true;
        resolve();
      };
    });
    if (!opts.detach) {
      try {
        hijacked = await client.hijack('POST', `/containers/${id}/attach`, {
          // Go's url.Values.Encode sorts the keys; keep the same order on the wire.
          query: { stderr: true, stdin: opts.interactive, stdout: true, stream: true },
        });
      } catch (err) {
        throw runFailure(ctx, 125, describeError(err));
      }
      const stream = hijacked;
      cleanups.push(() => stream.socket.destroy());
      const chunks = hijackedChunks(stream);
      output = (
        opts.tty ? copyRawStream(chunks, streams.stdout) : demuxStream(chunks, streams.stdout, streams.stderr)
      ).then(
        () => undefined,
        (err: unknown) => err,
      );
      if (opts.interactive) {
        const raw = opts.tty && streams.stdin.isTTY === true && typeof streams.stdin.setRawMode === 'function';
        if (raw) cleanups.push(enterRawMode(streams.stdin));
        cleanups.push(pipeStdin(ctx, stream.socket, raw, () => detach()));
      } else {
        stream.socket.end();
      }
    }

    let waitRes: IncomingMessage;
    try {
      waitRes = await client.stream('POST', `/containers/${id}/wait`, {
        query: { condition: opts.autoRemove ? 'removed' : 'next-exit' },
      });
    } catch (err) {
      throw runFailure(ctx, 125, describeError(err));
    }
    cleanups.push(() => waitRes.destroy());
    const waitResult = readWaitResult(waitRes).then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );

    try {
      await client.json('POST', `/containers/${id}/start`);
    } catch (err) {
      hijacked?.socket.destroy();
      // With --rm the daemon removes the container; docker waits for that before exiting.
      if (opts.autoRemove && !opts.detach) await waitResult;
      const message = describeError(err);
      throw runFailure(ctx, startErrorExitCode(message), message);
    }

    if (opts.detach) return 0;

    if (opts.tty && streams.stdout.isTTY) {
      await resize(ctx, id);
      const onWinch = (): void => void resize(ctx, id);
      ctx.hooks.on('SIGWINCH', onWinch);
      cleanups.push(() => ctx.hooks.off('SIGWINCH', onWinch));
    } else if (!opts.tty) {
      // Like docker's --sig-proxy (default true): forward interrupts to the container.
      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        const forward = (): void => {
          client
            .request('POST', `/containers/${id}/kill`, { query: { signal } })
            .then((res) => res.resume())
            .catch(() => undefined);
        };
        ctx.hooks.on(signal, forward);
        cleanups.push(() => ctx.hooks.off(signal, forward));
      }
    }

    const streamError = await Promise.race([output, detachedSignal]);
    if (detached) return 0;
    if (streamError) throw runFailure(ctx, 125, describeError(streamError));

    const result = await waitResult;
    if ('error' in result) throw runFailure(ctx, 125, describeError(result.error));
    if (result.value.Error?.Message) throw runFailure(ctx, 125, result.value.Error.Message);
    return result.value.StatusCode;
  } finally {
    for (const cleanup of cleanups.reverse()) cleanup();
  }
}

export const runCommand: Command = {
  name: 'run',
  usage: 'run [OPTIONS] IMAGE [COMMAND] [ARG...]',
  summary: 'Create and run a new container from an image',
  interspersed: false,
  args: { min: 1 },
  flags: RUN_FLAGS,
  async run(ctx, { flags, args }) {
    const { stdin, stdout } = ctx.streams;
    let opts: RunOptions;
    try {
      opts = buildRunOptions(flags, args, ctx.env, [stdout.rows ?? 0, stdout.columns ?? 0]);
      parseNormalizedNamed(opts.image);
    } catch (err) {
      if (err instanceof RunOptionsError || err instanceof InvalidReferenceError)
        throw runFailure(ctx, 125, err.message);
      throw err;
    }
    for (const warning of opts.warnings) ctx.streams.stderr.write(`${warning}\n`);
    if (opts.tty && opts.interactive && !opts.detach && stdin.isTTY !== true) {
      throw new StatusError(1, `${ctx.program}: the input device is not a TTY`);
    }
    return runContainer(ctx, opts);
  },
};
