// docker's opts.ParseEnvFile: KEY=VALUE lines; a bare KEY takes the client's value (or is dropped);
// blank lines and '#' comments are skipped.

import { readFileSync } from 'node:fs';

export class EnvFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvFileError';
  }
}

export function parseEnvFileText(text: string, file: string, env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  for (const raw of text.replace(/^\uFEFF/, '').split('\n')) {
    const line = raw.replace(/^[ \t]+/, '').replace(/\r$/, '');
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const name = eq >= 0 ? line.slice(0, eq) : line;
    if (name === '') throw new EnvFileError(`invalid env file (${file}): no variable name on line '${line}'`);
    if (/\s/.test(name)) throw new EnvFileError(`invalid env file (${file}): variable '${name}' contains whitespaces`);
    if (eq >= 0) out.push(line);
    else if (env[name] !== undefined) out.push(`${name}=${env[name]}`);
  }
  return out;
}

/** Reads every --env-file in order; errors read like docker's. */
export function readEnvFiles(files: readonly string[], env: NodeJS.ProcessEnv): string[] {
  return files.flatMap((file) => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new EnvFileError(`open ${file}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}`);
    }
    return parseEnvFileText(text, file, env);
  });
}
