import { execFile } from 'node:child_process';
import { InvalidParameterError, SystemError } from '../plugin-api/errors.js';

export interface TopResult {
  Titles: string[];
  Processes: string[][];
}

/** moby's validatePSArgs: `-o xxx=PID` may only rename the pid column to `pid`. */
export function validatePsArgs(psArgs: string): void {
  for (const m of psArgs.matchAll(/\s+([^\s]*)=\s*(PID[^\s]*)/g)) {
    if (m[1] !== 'pid') throw new InvalidParameterError(`specifying "${m[1]}=${m[2]}" is not allowed`);
  }
}

/** Splits on ASCII whitespace only (moby's fieldsASCII; a command may hold other spaces). */
function fields(line: string): string[] {
  return line.split(/[\t\n\v\f\r ]+/).filter((f) => f !== '');
}

/**
 * moby's parsePSOutput: keeps the lines whose PID is one of `pids` (and the thread lines, PID
 * `-`, that follow them), the last column taking whatever overhangs (the command line).
 */
export function parsePsOutput(output: string, pids: readonly number[]): TopResult {
  const lines = output.split('\n');
  const titles = fields(lines[0] ?? '');
  const pidIndex = titles.indexOf('PID');
  if (pidIndex < 0) throw new SystemError("Couldn't find PID field in ps output");
  const wanted = new Set(pids);
  const processes: string[][] = [];
  const add = (f: string[]) => processes.push([...f.slice(0, titles.length - 1), f.slice(titles.length - 1).join(' ')]);
  let inContainer = false;
  for (const line of lines.slice(1)) {
    if (line === '') continue;
    const f = fields(line);
    const pidField = f[pidIndex];
    if (pidField === '-') {
      if (inContainer) add(f);
      continue;
    }
    const pid = Number(pidField);
    if (!Number.isInteger(pid)) throw new SystemError(`Unexpected pid '${pidField}'`);
    inContainer = wanted.has(pid);
    if (inContainer) add(f);
  }
  return { Titles: titles, Processes: processes };
}

function ps(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ps', args, { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const first = String(stderr).split('\n')[0];
      reject(new SystemError(`ps: ${first || err.message}`, { cause: err }));
    });
  });
}

/**
 * `docker top`: runs the host's `ps` with the client's arguments (default `-ef`) and keeps the
 * container's processes, as dockerd does; `-q <pids>` narrows ps's work when the options allow it.
 */
export async function containerTop(pids: readonly number[], psArgs: string): Promise<TopResult> {
  const argString = psArgs || '-ef';
  validatePsArgs(argString);
  const args = argString.split(' ').filter((a) => a !== '');
  let output: string;
  try {
    output = await ps([...args, '-q', pids.join(',')]);
  } catch {
    // Some options (f, for one) cannot be combined with -q: ask again without it.
    output = await ps(args);
  }
  return parsePsOutput(output, pids);
}
