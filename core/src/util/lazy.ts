/**
 * Memoizes an async loader: the first call starts it, later calls share its promise; a failed load
 * is tried again by the next call. Routes use it to import heavy modules (tar, koffi, the builder's
 * Dockerfile parser) on first use instead of at daemon start, which keeps idle memory down.
 */
export function lazy<T>(load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () =>
    (pending ??= load().catch((err: unknown) => {
      pending = undefined;
      throw err;
    }));
}
