/**
 * The uncompressed kernel (`vmlinux`, an ELF) out of a bzImage, for qemu's PVH boot: qemu loads
 * the ELF itself and enters it in 32-bit mode, with no firmware boot path, real-mode setup or
 * decompression in the guest (under TCG that is most of a second).
 */

/** LZ4's legacy frame (what the kernel's `lz4 -l` payloads use): this magic, then sized blocks. */
const LZ4_LEGACY_MAGIC = 0x184c2102;

/** Decodes one LZ4 block `src[s, e)` into `out` at `o`; returns the new end of `out`. */
export function lz4Block(src: Buffer, s: number, e: number, out: Buffer, o: number): number {
  const length = (n: number): number => {
    if (n !== 15) return n;
    for (let b = 255; b === 255;) {
      if (s >= e) throw new Error('lz4: truncated length');
      b = src[s++]!;
      n += b;
    }
    return n;
  };
  while (s < e) {
    const token = src[s++]!;
    const literals = length(token >> 4);
    if (s + literals > e || o + literals > out.length) throw new Error('lz4: literals out of bounds');
    src.copy(out, o, s, s + literals);
    s += literals;
    o += literals;
    if (s >= e) break; // the last sequence has literals only
    const offset = src[s]! | (src[s + 1]! << 8);
    s += 2;
    const matchLength = length(token & 15) + 4;
    let m = o - offset;
    if (offset === 0 || m < 0 || o + matchLength > out.length) throw new Error('lz4: match out of bounds');
    if (offset >= matchLength) {
      out.copy(out, o, m, m + matchLength);
      o += matchLength;
    } else {
      for (let i = 0; i < matchLength; i++) out[o++] = out[m++]!;
    }
  }
  return o;
}

/**
 * Decodes a legacy LZ4 stream whose decompressed size is `size` (the kernel appends it to its
 * payload); anything after the last whole block is ignored.
 */
export function lz4Legacy(src: Buffer, size: number): Buffer {
  if (src.length < 4 || src.readUInt32LE(0) !== LZ4_LEGACY_MAGIC) throw new Error('lz4: not a legacy LZ4 stream');
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  for (let p = 4; p + 4 <= src.length;) {
    const n = src.readUInt32LE(p);
    if (n === LZ4_LEGACY_MAGIC) {
      p += 4;
      continue;
    }
    if (p + 4 + n > src.length) break;
    o = lz4Block(src, p + 4, p + 4 + n, out, o);
    p += 4 + n;
  }
  if (o !== size) throw new Error(`lz4: decoded ${o} bytes, expected ${size}`);
  return out;
}

/** Whether an ELF kernel has a PVH entry point (the Xen note XEN_ELFNOTE_PHYS32_ENTRY). */
export function hasPvhEntry(elf: Buffer): boolean {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) return false; // ELF64
  const phoff = Number(elf.readBigUInt64LE(32));
  const phentsize = elf.readUInt16LE(54);
  const phnum = elf.readUInt16LE(56);
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (ph + 56 > elf.length || elf.readUInt32LE(ph) !== 4) continue; // PT_NOTE
    const start = Number(elf.readBigUInt64LE(ph + 8));
    const end = Math.min(elf.length, start + Number(elf.readBigUInt64LE(ph + 32)));
    for (let n = start; n + 12 <= end;) {
      const namesz = elf.readUInt32LE(n);
      const descsz = elf.readUInt32LE(n + 4);
      const type = elf.readUInt32LE(n + 8);
      const name = elf.toString('latin1', n + 12, n + 12 + Math.max(0, namesz - 1));
      if (name === 'Xen' && type === 18) return true;
      n += 12 + Math.ceil(namesz / 4) * 4 + Math.ceil(descsz / 4) * 4;
    }
  }
  return false;
}

/**
 * The ELF kernel inside a bzImage when its payload is LZ4 (Debian's kernels) and it can be
 * entered by PVH; undefined otherwise (the bzImage is then booted as it is).
 */
export function vmlinuxFromBzImage(bz: Buffer): Buffer | undefined {
  if (bz.length < 0x250 || bz.toString('latin1', 0x202, 0x206) !== 'HdrS') return undefined;
  const setupSize = ((bz[0x1f1] || 4) + 1) * 512;
  const offset = setupSize + bz.readUInt32LE(0x248);
  const length = bz.readUInt32LE(0x24c);
  if (offset + length > bz.length || length < 8) return undefined;
  const payload = bz.subarray(offset, offset + length);
  if (payload.readUInt32LE(0) !== LZ4_LEGACY_MAGIC) return undefined;
  const elf = lz4Legacy(payload, payload.readUInt32LE(length - 4));
  return hasPvhEntry(elf) ? elf : undefined;
}
