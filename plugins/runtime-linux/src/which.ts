import { accessSync, constants, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';

/** Absolute path of an executable: `name` itself when it contains a slash, else looked up in PATH. */
export function findExecutable(name: string, extraDirs: readonly string[] = []): string | undefined {
  const candidates = name.includes('/')
    ? [resolve(name)]
    : [...(process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':'), ...extraDirs]
        .filter((d) => isAbsolute(d))
        .map((d) => join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      if (statSync(c).isFile()) return c;
    } catch {
      // Not here: next candidate.
    }
  }
  return undefined;
}
