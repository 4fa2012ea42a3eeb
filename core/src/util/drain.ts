/** The event surface shared by Node writables and streamx ones (tar-stream). */
interface DrainableStream {
  on(event: 'drain' | 'close', fn: () => void): unknown;
  off(event: 'drain' | 'close', fn: () => void): unknown;
}

/** Resolves once `w` can take more data, or is closed (so a destroyed consumer never wedges the writer). */
export function drainOrClose(w: DrainableStream): Promise<void> {
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
