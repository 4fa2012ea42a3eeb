import { constants } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { isErrno } from '../../host/fs.js';
import { InvalidParameterError, SkiffError } from '../../plugin-api/errors.js';
import { cleanPath } from './dockerignore.js';
import { DEFAULT_DOCKERFILE, readDockerignore } from './extract-context.js';
import { PatternMatcher } from './dockerignore.js';
import { resolveInScope } from './scoped-path.js';

/** No Dockerfile in the context: a 500, as dockerd answers (its error carries no type). */
export class DockerfileNotFoundError extends SkiffError {
  override readonly status = 500;
}

/** Dockerfiles beyond this are refused rather than read into memory. */
const MAX_DOCKERFILE = 16 << 20;

async function readInContext(contextDir: string, name: string): Promise<{ path: string; content: string } | undefined> {
  const r = await resolveInScope(contextDir, name);
  if (r.stat === undefined) return undefined;
  if (r.stat.isDirectory()) {
    throw new InvalidParameterError(`unexpected error reading Dockerfile: read ${name}: is a directory`);
  }
  if (!r.stat.isFile()) return undefined;
  if (r.stat.size > MAX_DOCKERFILE) throw new InvalidParameterError(`the Dockerfile (${name}) is too large`);
  const fh = await open(r.real, constants.O_RDONLY | constants.O_NOFOLLOW).catch((e: unknown) => {
    if (isErrno(e, 'ENOENT', 'ELOOP')) return undefined;
    throw e;
  });
  if (!fh) return undefined;
  try {
    const content = (await fh.readFile()).toString('utf8');
    return { path: r.real, content };
  } finally {
    await fh.close();
  }
}

/**
 * Finds the Dockerfile of an extracted context the way dockerd does: `name` (the `dockerfile`
 * query parameter, default `Dockerfile`) relative to the context, symlinks followed inside it
 * only; for the default name, `dockerfile` is tried too. Then, like dockerd, removes the
 * `.dockerignore` file and the Dockerfile from the context when .dockerignore names them, so
 * COPY cannot see them: call it once per context, after extractContext.
 */
export async function locateDockerfile(contextDir: string, name: string): Promise<{ path: string; content: string }> {
  const requested = name === '' ? DEFAULT_DOCKERFILE : name;
  if (requested.includes('\0')) throw new DockerfileNotFoundError(`Cannot locate specified Dockerfile: ${requested}`);
  const rel = cleanPath(requested.replace(/^\/+/, ''));
  if (rel === '..' || rel.startsWith('../')) {
    throw new InvalidParameterError(`forbidden path outside the build context: ${requested}`);
  }
  let used = rel;
  let found = await readInContext(contextDir, rel);
  if (found === undefined && requested === DEFAULT_DOCKERFILE) {
    used = rel.toLowerCase();
    found = await readInContext(contextDir, used);
  }
  if (found === undefined) throw new DockerfileNotFoundError(`Cannot locate specified Dockerfile: ${requested}`);
  if (found.content.length === 0) throw new InvalidParameterError(`the Dockerfile (${requested}) cannot be empty`);

  const patterns = await readDockerignore(contextDir);
  if (patterns.length > 0) {
    const matcher = new PatternMatcher(patterns);
    for (const file of ['.dockerignore', used]) {
      if (!matcher.matches(file)) continue;
      const r = await resolveInScope(contextDir, file, false);
      if (r.parts.length > 0) await rm(r.real, { recursive: true, force: true });
    }
  }
  return found;
}
