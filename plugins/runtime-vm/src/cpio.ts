/** One member of a newc ("070701") cpio archive, the format the kernel unpacks as initramfs. */
export interface CpioEntry {
  name: string;
  /** Full st_mode: type bits and permissions (0o100755, 0o40755, 0o20600). */
  mode: number;
  data?: Buffer;
  /** For device nodes. */
  rdev?: { major: number; minor: number };
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function pad4(n: number): Buffer {
  return Buffer.alloc((4 - (n % 4)) % 4);
}

/** The archive (uncompressed), entries in the given order, owned by root, followed by the trailer. */
export function cpioArchive(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  const all = [...entries, { name: 'TRAILER!!!', mode: 0 }];
  all.forEach((e, i) => {
    const data = e.data ?? Buffer.alloc(0);
    const name = Buffer.from(`${e.name}\0`);
    const isDir = (e.mode & 0o170000) === 0o040000;
    const header =
      '070701' +
      [
        e.name === 'TRAILER!!!' ? 0 : i + 1,
        e.mode,
        0,
        0,
        isDir ? 2 : 1,
        0,
        data.length,
        0,
        0,
        e.rdev?.major ?? 0,
        e.rdev?.minor ?? 0,
        name.length,
        0,
      ]
        .map(hex8)
        .join('');
    parts.push(Buffer.from(header, 'ascii'), name, pad4(110 + name.length), data, pad4(data.length));
  });
  return Buffer.concat(parts);
}
