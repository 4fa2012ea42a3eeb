import test from 'ava';
import { hasPvhEntry, lz4Legacy, vmlinuxFromBzImage } from './vmlinux.js';

const MAGIC = Buffer.from([0x02, 0x21, 0x4c, 0x18]);

function legacy(...blocks: number[][]): Buffer {
  const parts = [MAGIC];
  for (const b of blocks) {
    const size = Buffer.alloc(4);
    size.writeUInt32LE(b.length);
    parts.push(size, Buffer.from(b));
  }
  return Buffer.concat(parts);
}

test('lz4 legacy: literals, an overlapping match, a long literal run, two blocks', (t) => {
  // "abc", then 9 bytes from 3 back (overlapping: abcabcabc), then "X".
  const first = [0x35, 0x61, 0x62, 0x63, 0x03, 0x00, 0x10, 0x58];
  // 20 literals: 15 in the token plus 5 in the next byte.
  const second = [0xf0, 0x05, ...Buffer.from('0123456789abcdefghij')];
  t.is(lz4Legacy(legacy(first, second), 33).toString(), 'abcabcabcabcX0123456789abcdefghij');
  // The kernel's trailing size word is no block (too large for what is left): ignored.
  const trailer = Buffer.alloc(4);
  trailer.writeUInt32LE(13);
  t.is(lz4Legacy(Buffer.concat([legacy(first), trailer]), 13).toString(), 'abcabcabcabcX');
});

test('lz4 legacy: bad input is an error, never a read or write out of bounds', (t) => {
  t.throws(() => lz4Legacy(Buffer.from('not lz4 at all'), 4), { message: /not a legacy LZ4/ });
  t.throws(() => lz4Legacy(legacy([0x35, 0x61, 0x62, 0x63, 0x09, 0x00]), 12), { message: /match out of bounds/ });
  t.throws(() => lz4Legacy(legacy([0x35, 0x61, 0x62, 0x63, 0x03, 0x00]), 5), { message: /out of bounds/ });
  t.throws(() => lz4Legacy(legacy([0x10, 0x58]), 2), { message: /decoded 1 bytes, expected 2/ });
});

/** A minimal ELF64 with one PT_NOTE segment holding one note. */
function elfWithNote(name: string, type: number): Buffer {
  const elf = Buffer.alloc(256);
  elf.writeUInt32BE(0x7f454c46, 0);
  elf[4] = 2;
  elf.writeBigUInt64LE(64n, 32); // e_phoff
  elf.writeUInt16LE(56, 54); // e_phentsize
  elf.writeUInt16LE(1, 56); // e_phnum
  elf.writeUInt32LE(4, 64); // PT_NOTE
  elf.writeBigUInt64LE(128n, 64 + 8); // p_offset
  elf.writeBigUInt64LE(24n, 64 + 32); // p_filesz
  elf.writeUInt32LE(name.length + 1, 128);
  elf.writeUInt32LE(4, 132);
  elf.writeUInt32LE(type, 136);
  elf.write(name, 140, 'latin1');
  return elf;
}

test('PVH entry: found by its Xen note, not by another note', (t) => {
  t.true(hasPvhEntry(elfWithNote('Xen', 18)));
  t.false(hasPvhEntry(elfWithNote('Xen', 6)));
  t.false(hasPvhEntry(elfWithNote('GNU', 18)));
  t.false(hasPvhEntry(Buffer.from('plain text, no ELF')));
});

test('a bzImage without an LZ4 payload is left to be booted as it is', (t) => {
  t.is(vmlinuxFromBzImage(Buffer.alloc(4096)), undefined);
  const bz = Buffer.alloc(4096);
  bz.write('HdrS', 0x202, 'latin1');
  bz[0x1f1] = 1;
  bz.writeUInt32LE(0, 0x248);
  bz.writeUInt32LE(64, 0x24c);
  bz.write('\x1f\x8b\x08', 1024, 'latin1'); // gzip
  t.is(vmlinuxFromBzImage(bz), undefined);
});
