/**
 * The little of the DNS wire format (RFC 1035) the embedded server needs: parse a query's header
 * and questions, and build answers with A / AAAA / PTR records. Anything else is forwarded as raw
 * bytes, so it never needs to be understood here.
 */

export const TYPE = { A: 1, PTR: 12, AAAA: 28, ANY: 255 } as const;
export const CLASS_IN = 1;
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

export class DnsFormatError extends Error {}

export interface Question {
  name: string;
  type: number;
  cls: number;
}

export interface Query {
  id: number;
  flags: number;
  opcode: number;
  recursionDesired: boolean;
  questions: Question[];
  /** Offset just past the question section (answers are appended from here). */
  questionEnd: number;
}

export interface Answer {
  type: number;
  ttl: number;
  /** A/AAAA: the address text; PTR: the target name. */
  data: string;
}

/** Reads a (possibly compressed) domain name at `off`; returns it and the offset after it. */
export function readName(buf: Buffer, off: number): [string, number] {
  const labels: string[] = [];
  let end = -1;
  let hops = 0;
  for (;;) {
    if (off >= buf.length) throw new DnsFormatError('name runs past the message');
    const len = buf[off]!;
    if ((len & 0xc0) === 0xc0) {
      if (off + 1 >= buf.length) throw new DnsFormatError('truncated compression pointer');
      if (++hops > 32) throw new DnsFormatError('compression loop');
      if (end < 0) end = off + 2;
      off = ((len & 0x3f) << 8) | buf[off + 1]!;
      continue;
    }
    if (len & 0xc0) throw new DnsFormatError('unsupported label type');
    if (len === 0) {
      off += 1;
      break;
    }
    if (off + 1 + len > buf.length) throw new DnsFormatError('label runs past the message');
    labels.push(buf.toString('latin1', off + 1, off + 1 + len));
    off += 1 + len;
    if (labels.join('.').length > 253) throw new DnsFormatError('name too long');
  }
  return [labels.join('.'), end >= 0 ? end : off];
}

export function encodeName(name: string): Buffer {
  const parts = name.replace(/\.$/, '').split('.').filter(Boolean);
  const bufs: Buffer[] = [];
  for (const p of parts) {
    const b = Buffer.from(p, 'latin1');
    if (b.length > 63) throw new DnsFormatError(`label too long: ${p}`);
    bufs.push(Buffer.from([b.length]), b);
  }
  bufs.push(Buffer.from([0]));
  return Buffer.concat(bufs);
}

export function parseQuery(buf: Buffer): Query {
  if (buf.length < 12) throw new DnsFormatError('message shorter than a header');
  const id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  if (flags & 0x8000) throw new DnsFormatError('not a query');
  const qd = buf.readUInt16BE(4);
  if (qd > 16) throw new DnsFormatError('too many questions');
  let off = 12;
  const questions: Question[] = [];
  for (let i = 0; i < qd; i++) {
    const [name, next] = readName(buf, off);
    if (next + 4 > buf.length) throw new DnsFormatError('truncated question');
    questions.push({ name, type: buf.readUInt16BE(next), cls: buf.readUInt16BE(next + 2) });
    off = next + 4;
  }
  return {
    id,
    flags,
    opcode: (flags >> 11) & 0xf,
    recursionDesired: (flags & 0x100) !== 0,
    questions,
    questionEnd: off,
  };
}

function rdata(a: Answer): Buffer {
  if (a.type === TYPE.A) return Buffer.from(a.data.split('.').map((x) => Number.parseInt(x, 10)));
  if (a.type === TYPE.AAAA) return ipv6Bytes(a.data);
  if (a.type === TYPE.PTR) return encodeName(a.data);
  throw new DnsFormatError(`cannot encode record type ${a.type}`);
}

export function ipv6Bytes(ip: string): Buffer {
  const [head = '', tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = ip.includes('::') && tail ? tail.split(':') : [];
  const groups = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(Number.parseInt(g, 16), i * 2));
  return b;
}

/**
 * A response to `query` (first question only, echoed back) with `answers` for it. Authoritative,
 * recursion available (we forward), the query's RD bit copied.
 */
export function buildResponse(query: Query, rcode: number, answers: Answer[] = []): Buffer {
  const q = query.questions[0];
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.id, 0);
  const flags = 0x8000 | (query.opcode << 11) | 0x0400 | (query.flags & 0x0100) | 0x0080 | (rcode & 0xf);
  header.writeUInt16BE(flags, 2);
  header.writeUInt16BE(q ? 1 : 0, 4);
  header.writeUInt16BE(answers.length, 6);
  const parts: Buffer[] = [header];
  if (q) {
    const tail = Buffer.alloc(4);
    tail.writeUInt16BE(q.type, 0);
    tail.writeUInt16BE(q.cls, 2);
    parts.push(encodeName(q.name), tail);
  }
  for (const a of answers) {
    const data = rdata(a);
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question's name at offset 12
    rr.writeUInt16BE(a.type, 2);
    rr.writeUInt16BE(CLASS_IN, 4);
    rr.writeUInt32BE(a.ttl, 6);
    rr.writeUInt16BE(data.length, 10);
    parts.push(rr, data);
  }
  return Buffer.concat(parts);
}

/** Builds a query (used by tests and by nothing on the serving path). */
export function buildQuery(id: number, name: string, type: number): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2); // RD
  header.writeUInt16BE(1, 4);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(CLASS_IN, 2);
  return Buffer.concat([header, encodeName(name), tail]);
}

export interface ParsedResponse {
  id: number;
  rcode: number;
  answers: Array<{ name: string; type: number; data: string }>;
}

/** Parses a response's answer section (A, AAAA, PTR decoded; others as hex). */
export function parseResponse(buf: Buffer): ParsedResponse {
  if (buf.length < 12) throw new DnsFormatError('short response');
  const id = buf.readUInt16BE(0);
  const rcode = buf.readUInt16BE(2) & 0xf;
  const qd = buf.readUInt16BE(4);
  const an = buf.readUInt16BE(6);
  let off = 12;
  for (let i = 0; i < qd; i++) off = readName(buf, off)[1] + 4;
  const answers: ParsedResponse['answers'] = [];
  for (let i = 0; i < an; i++) {
    const [name, next] = readName(buf, off);
    const type = buf.readUInt16BE(next);
    const len = buf.readUInt16BE(next + 8);
    const start = next + 10;
    const raw = buf.subarray(start, start + len);
    let data: string;
    if (type === TYPE.A) data = [...raw].join('.');
    else if (type === TYPE.AAAA) data = formatIPv6(raw);
    else if (type === TYPE.PTR) data = readName(buf, start)[0];
    else data = raw.toString('hex');
    answers.push({ name, type, data });
    off = start + len;
  }
  return { id, rcode, answers };
}

function formatIPv6(b: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}
