/** Blocks the thread for `ms` (the OCI shim is a short synchronous command; nothing else runs). */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
