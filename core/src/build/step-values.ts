import { InvalidParameterError } from '../plugin-api/errors.js';

/** EXPOSE's ports as `ExposedPorts` keys (moby's nat.ParsePortSpecs): `80` → `80/tcp`, ranges expanded. */
export function exposedPorts(specs: readonly string[]): Record<string, object> {
  const out: Record<string, object> = {};
  for (const spec of specs) {
    const [range, proto = 'tcp', ...extra] = spec.split('/');
    if (extra.length > 0 || !['tcp', 'udp', 'sctp'].includes(proto.toLowerCase()))
      throw new InvalidParameterError(`Invalid proto: ${proto}`);
    const m = /^(\d+)(?:-(\d+))?$/.exec(range ?? '');
    if (!m) throw new InvalidParameterError(`Invalid containerPort: ${range}`);
    const start = Number(m[1]);
    const end = m[2] === undefined ? start : Number(m[2]);
    if (start < 1 || end > 65535 || end < start)
      throw new InvalidParameterError(`Invalid range specified for the Port: ${range}`);
    if (end - start > 65535) throw new InvalidParameterError(`Invalid range specified for the Port: ${range}`);
    for (let p = start; p <= end; p++) out[`${p}/${proto.toLowerCase()}`] = {};
  }
  return out;
}

const SIGNALS = new Set([
  'ABRT',
  'ALRM',
  'BUS',
  'CHLD',
  'CLD',
  'CONT',
  'FPE',
  'HUP',
  'ILL',
  'INT',
  'IO',
  'IOT',
  'KILL',
  'PIPE',
  'POLL',
  'PROF',
  'PWR',
  'QUIT',
  'SEGV',
  'STKFLT',
  'STOP',
  'SYS',
  'TERM',
  'TRAP',
  'TSTP',
  'TTIN',
  'TTOU',
  'URG',
  'USR1',
  'USR2',
  'VTALRM',
  'WINCH',
  'XCPU',
  'XFSZ',
]);

/** STOPSIGNAL's value: a signal number or name (with or without SIG, RTMIN+n), as moby's ParseSignal. */
export function validateStopSignal(sig: string): void {
  if (/^\d+$/.test(sig) && Number(sig) > 0 && Number(sig) <= 64) return;
  const name = sig.toUpperCase().replace(/^SIG/, '');
  if (SIGNALS.has(name) || /^RTMIN(\+\d+)?$|^RTMAX(-\d+)?$/.test(name)) return;
  throw new InvalidParameterError(`Invalid signal: ${sig}`);
}
