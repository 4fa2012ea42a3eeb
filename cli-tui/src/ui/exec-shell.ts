// `E`: an interactive shell in the selected container (docker exec -it), run while Ink has
// handed the terminal back: raw mode on, keys to the hijacked socket, output to the terminal,
// window size forwarded, then everything restored for Ink.

import type { ApiClient } from '../api/client.js';
import type { OutStream, ProcessHooks } from '../commands/types.js';

/** Prefer bash when the image has it (lazydocker #457: not every image has the user's shell). */
export const SHELL_CMD = ['/bin/sh', '-c', 'if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi'];

export interface ShellIo {
  /** The terminal's input, diverted to the session while it runs. */
  input: { setRawMode(raw: boolean): void; divert(handler: ((chunk: Buffer) => void) | undefined): void };
  stdout: OutStream;
  hooks: Pick<ProcessHooks, 'on' | 'off'>;
}

export async function execShell(client: ApiClient, containerId: string, io: ShellIo): Promise<number | undefined> {
  const { Id: execId } = await client.json<{ Id: string }>(
    'POST',
    `/containers/${encodeURIComponent(containerId)}/exec`,
    {
      body: {
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
        Tty: true,
        Env: ['TERM=xterm-256color'],
        Cmd: SHELL_CMD,
      },
    },
  );
  const stream = await client.hijack('POST', `/exec/${encodeURIComponent(execId)}/start`, {
    body: { Detach: false, Tty: true },
  });
  const { input, stdout } = io;
  const resize = (): void => {
    const rows = stdout.rows;
    const cols = stdout.columns;
    if (!rows || !cols) return;
    client
      .json('POST', `/exec/${encodeURIComponent(execId)}/resize`, { query: { h: rows, w: cols } })
      .catch(() => undefined);
  };
  input.setRawMode(true);
  input.divert((chunk) => stream.socket.write(chunk));
  io.hooks.on('SIGWINCH', resize);
  resize();
  try {
    if (stream.head.length > 0) stdout.write(stream.head);
    await new Promise<void>((resolve) => {
      stream.socket.on('data', (d: Buffer) => stdout.write(d));
      stream.socket.once('close', () => resolve());
      stream.socket.once('end', () => resolve());
      stream.socket.once('error', () => resolve());
    });
  } finally {
    io.hooks.off('SIGWINCH', resize);
    input.divert(undefined);
    input.setRawMode(false);
    stream.socket.destroy();
  }
  const inspect = await client
    .json<{ ExitCode?: number | null }>('GET', `/exec/${encodeURIComponent(execId)}/json`)
    .catch(() => undefined);
  return inspect?.ExitCode ?? undefined;
}
