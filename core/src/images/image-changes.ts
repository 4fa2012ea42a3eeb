import { posix } from 'node:path';
import { InvalidParameterError } from '../plugin-api/errors.js';
import type { ContainerConfigDefaults } from './image-types.js';

/** Dockerfile instructions `docker import --change` (and commit) accept, as moby's BuildFromConfig. */
const VALID = new Set([
  'CMD',
  'ENTRYPOINT',
  'ENV',
  'EXPOSE',
  'HEALTHCHECK',
  'LABEL',
  'ONBUILD',
  'STOPSIGNAL',
  'USER',
  'VOLUME',
  'WORKDIR',
]);

/**
 * Splits Dockerfile words the way its `KEY=value` instructions do: whitespace separates words,
 * single quotes are literal, double quotes allow `\` escapes, and `\` escapes outside quotes.
 */
export function splitWords(s: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (c === '\\') {
      if (i + 1 < s.length) cur += s[++i];
    } else if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) throw new InvalidParameterError(`unmatched single quote in ${JSON.stringify(s)}`);
      cur += s.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < s.length && s[j] !== '"'; j++) {
        if (s[j] === '\\' && j + 1 < s.length && ['"', '\\', '$', '`'].includes(s[j + 1]!)) j++;
        cur += s[j];
      }
      if (j >= s.length) throw new InvalidParameterError(`unmatched double quote in ${JSON.stringify(s)}`);
      i = j;
    } else cur += c;
  }
  if (inWord) words.push(cur);
  return words;
}

/** The JSON form `["a","b"]`, if `rest` is one. */
function jsonForm(rest: string): string[] | undefined {
  const t = rest.trim();
  if (!t.startsWith('[')) return undefined;
  try {
    const v: unknown = JSON.parse(t);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
  } catch {
    // Not JSON: Docker falls back to the shell form.
  }
  return undefined;
}

/** `["a","b"]` (exec form) or the shell form `/bin/sh -c "…"`. */
function commandForm(rest: string): string[] {
  return jsonForm(rest) ?? ['/bin/sh', '-c', rest.trim()];
}

/** `KEY=value …` pairs, or the legacy single `KEY value with spaces`. */
function pairs(instr: string, rest: string, legacyAllowed: boolean): [string, string][] {
  const words = splitWords(rest);
  if (words.length === 0) throw new InvalidParameterError(`${instr} requires at least one argument`);
  if (!words[0]!.includes('=')) {
    if (!legacyAllowed) throw new InvalidParameterError(`${instr} names must be given as KEY=value`);
    const m = /^\s*(\S+)\s+([\s\S]*)$/.exec(rest);
    if (!m) throw new InvalidParameterError(`${instr} ${words[0]} needs a value`);
    return [[m[1]!, m[2]!.trim()]];
  }
  return words.map((w) => {
    const i = w.indexOf('=');
    if (i <= 0) throw new InvalidParameterError(`${instr}: ${JSON.stringify(w)} is not KEY=value`);
    return [w.slice(0, i), w.slice(i + 1)];
  });
}

function exposedPorts(rest: string): string[] {
  const out: string[] = [];
  for (const w of splitWords(rest)) {
    const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(w);
    if (!m) throw new InvalidParameterError(`invalid port ${JSON.stringify(w)} in EXPOSE`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (lo < 1 || hi > 65535 || hi < lo) throw new InvalidParameterError(`invalid port range ${w} in EXPOSE`);
    for (let p = lo; p <= hi; p++) out.push(`${p}/${(m[3] ?? 'tcp').toLowerCase()}`);
  }
  return out;
}

/**
 * Applies `--change` lines to a container config: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL,
 * USER, VOLUME and WORKDIR. Anything else is an InvalidParameterError with dockerd's wording.
 */
export function applyChanges(base: ContainerConfigDefaults, changes: string[]): ContainerConfigDefaults {
  const cfg: ContainerConfigDefaults = structuredClone(base);
  let cmdSet = false;
  for (const line of changes) {
    const m = /^\s*(\S+)\s*([\s\S]*)$/.exec(line);
    if (!m) continue;
    const instr = m[1]!.toUpperCase();
    const rest = m[2]!.trim();
    if (!VALID.has(instr)) throw new InvalidParameterError(`${m[1]} is not a valid change command`);
    switch (instr) {
      case 'CMD':
        cfg.Cmd = commandForm(rest);
        cmdSet = true;
        break;
      case 'ENTRYPOINT':
        cfg.Entrypoint = commandForm(rest);
        if (!cmdSet) cfg.Cmd = null;
        break;
      case 'ENV': {
        const env = [...(cfg.Env ?? [])];
        for (const [k, v] of pairs(instr, rest, true)) {
          const i = env.findIndex((e) => e.split('=')[0] === k);
          if (i >= 0) env[i] = `${k}=${v}`;
          else env.push(`${k}=${v}`);
        }
        cfg.Env = env;
        break;
      }
      case 'LABEL':
        cfg.Labels = { ...(cfg.Labels ?? {}), ...Object.fromEntries(pairs(instr, rest, true)) };
        break;
      case 'EXPOSE':
        cfg.ExposedPorts = {
          ...(cfg.ExposedPorts ?? {}),
          ...Object.fromEntries(exposedPorts(rest).map((p) => [p, {}])),
        };
        break;
      case 'USER':
      case 'STOPSIGNAL':
        if (rest === '') throw new InvalidParameterError(`${instr} requires exactly one argument`);
        if (instr === 'USER') cfg.User = rest;
        else cfg.StopSignal = rest;
        break;
      case 'WORKDIR':
        if (rest === '') throw new InvalidParameterError('WORKDIR requires exactly one argument');
        cfg.WorkingDir = posix.resolve(cfg.WorkingDir || '/', rest);
        break;
      case 'VOLUME': {
        const vols = jsonForm(rest) ?? splitWords(rest);
        if (vols.length === 0) throw new InvalidParameterError('VOLUME requires at least one argument');
        cfg.Volumes = { ...(cfg.Volumes ?? {}), ...Object.fromEntries(vols.map((v) => [v, {}])) };
        break;
      }
      default:
        throw new InvalidParameterError(`${instr} is not supported in --change by skiff`);
    }
  }
  return cfg;
}
