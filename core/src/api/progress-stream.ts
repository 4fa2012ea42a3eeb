import type { FastifyReply } from 'fastify';
import type { ProgressMessage } from '../images/image-types.js';
import { engineHeaders } from './api-version.js';

/**
 * Starts a chunked JSON progress stream lazily: errors that happen before the first committed
 * message still get a proper status code, as dockerd does for an unknown manifest; after it,
 * errors go in-band (`errorDetail` and the legacy `error`).
 */
export class ProgressStream {
  private started = false;
  private pending: ProgressMessage[] = [];
  constructor(private readonly reply: FastifyReply) {}

  /** Queues `m` until the stream is committed; `commit` sends the 200 and everything queued. */
  push(m: ProgressMessage, commit = false): void {
    if (!this.started && !commit) {
      this.pending.push(m);
      return;
    }
    this.begin();
    this.reply.raw.write(`${JSON.stringify(m)}\r\n`);
  }

  begin(): void {
    if (this.started) return;
    this.started = true;
    this.reply.hijack();
    this.reply.raw.writeHead(200, { ...engineHeaders(), 'Content-Type': 'application/json' });
    for (const m of this.pending.splice(0)) this.reply.raw.write(`${JSON.stringify(m)}\r\n`);
  }

  get isStarted(): boolean {
    return this.started;
  }

  /** Reports `err` in-band once streaming; rethrows it (for a real status code) before. */
  fail(err: unknown): void {
    if (!this.started) throw err;
    const message = (err as Error)?.message ?? String(err);
    this.push({ errorDetail: { message }, error: message }, true);
  }

  end(): void {
    this.begin();
    this.reply.raw.end();
  }
}
