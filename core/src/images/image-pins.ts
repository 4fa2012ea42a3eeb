/**
 * What operations in progress still need (layer chain IDs, blob digests) although no image record
 * names it yet, such as the layers a pull found already present: image removal leaves them alone.
 * Pin under the image lock (see withImageLock), so no removal is half-way through them.
 */
export class ImagePins {
  private readonly counts = new Map<string, number>();

  /** Pins `keys`; the returned function unpins them (once). */
  pin(keys: Iterable<string>): () => void {
    const held = [...new Set(keys)];
    for (const k of held) this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const k of held) {
        const n = (this.counts.get(k) ?? 1) - 1;
        if (n > 0) this.counts.set(k, n);
        else this.counts.delete(k);
      }
    };
  }

  has(key: string): boolean {
    return this.counts.has(key);
  }
}
