/** The surface shared by Node writables and streamx ones (tar-stream's extract). */
interface FeedableStream {
  write(chunk: Buffer): boolean;
  end(chunk?: undefined): unknown;
  destroy(err?: Error): unknown;
  readonly destroyed: boolean;
  on(event: 'drain' | 'close', fn: () => void): unknown;
  off(event: 'drain' | 'close', fn: () => void): unknown;
}

/** Resolves once `w` can take more data, or is closed (so a destroyed consumer never wedges the writer). */
export function drainOrClose(w: FeedableStream): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      w.off('drain', done);
      w.off('close', done);
      resolve();
    };
    w.on('drain', done);
    w.on('close', done);
  });
}

/**
 * Feeds `source` into `sink` with back-pressure, ending `sink` when the source ends; stops early
 * once `sink` is destroyed. An error from the source (or thrown by `onChunk`, e.g. a size limit)
 * destroys `sink` and is what the returned promise resolves to; it never rejects.
 */
export async function feedStream(
  source: AsyncIterable<Buffer>,
  sink: FeedableStream,
  onChunk?: (chunk: Buffer) => void,
): Promise<unknown> {
  try {
    for await (const chunk of source) {
      if (sink.destroyed) break;
      onChunk?.(chunk);
      if (!sink.write(chunk)) await drainOrClose(sink);
      if (sink.destroyed) break;
    }
    if (!sink.destroyed) sink.end(undefined);
    return undefined;
  } catch (e) {
    sink.destroy(e as Error);
    return e;
  }
}
