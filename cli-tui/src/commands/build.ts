// skiff build: the classic builder (POST /build with a tar context), output like
// `DOCKER_BUILDKIT=0 docker build`: "Sending build context…", then the daemon's "Step 1/3 : …" stream.

import { access, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { readJSONStream } from '../api/json-stream.js';
import { uploadStream } from '../api/upload.js';
import {
  archiveContext,
  BuildContextError,
  type BuildContext,
  createBuildContext,
  dockerfileOnlyContext,
  looksLikeArchive,
} from '../cli/build-context.js';
import { StatusError } from '../cli/errors.js';
import type { SubCommand } from '../cli/group.js';
import { readAll } from '../cli/prompt.js';
import { displayJSONMessages, type JSONMessage, JSONMessageError } from '../format/progress.js';
import { humanSize } from '../format/units.js';
import { parseImageRef } from './push.js';
import { registryConfigHeader } from './registry-auth.js';
import type { CommandContext } from './types.js';

const REMOTE = /^(https?:\/\/|git:\/\/|git@|github\.com\/)/;

/** `K=V` → K: V; a bare `K` takes the value from the environment (null when unset), like docker. */
export function keyValueMap(
  values: readonly string[],
  env: NodeJS.ProcessEnv,
  fromEnv: boolean,
): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq >= 0) out[v.slice(0, eq)] = v.slice(eq + 1);
    else if (fromEnv) out[v] = env[v] ?? null;
    else out[v] = '';
  }
  return out;
}

async function readStdin(ctx: CommandContext): Promise<Buffer> {
  return Buffer.from(await readAll(ctx.streams.stdin), 'latin1');
}

/** PATH/Dockerfile, or PATH/dockerfile when only the lowercase one exists (docker's fallback). */
async function defaultDockerfile(dir: string): Promise<string> {
  const upper = join(dir, 'Dockerfile');
  const lower = join(dir, 'dockerfile');
  const exists = (p: string) =>
    access(p).then(
      () => true,
      () => false,
    );
  return !(await exists(upper)) && (await exists(lower)) ? lower : upper;
}

async function prepareContext(
  ctx: CommandContext,
  source: string,
  dockerfile: string | undefined,
): Promise<BuildContext | undefined> {
  if (REMOTE.test(source)) return undefined;
  if (source === '-') {
    if (dockerfile === '-')
      throw new StatusError(1, "invalid argument: can't use stdin for both build context and dockerfile");
    const data = await readStdin(ctx);
    return looksLikeArchive(data) ? archiveContext(data) : dockerfileOnlyContext(data);
  }
  const dir = resolve(source);
  try {
    if (dockerfile === '-') {
      return await createBuildContext({
        dir,
        dockerfile: 'Dockerfile',
        extraDockerfile: { content: await readStdin(ctx) },
      });
    }
    // Like docker: -f is relative to the current directory (not the context); a Dockerfile
    // outside the context is sent inside it under a random name.
    const abs = dockerfile ? resolve(dockerfile) : await defaultDockerfile(dir);
    if (!abs.startsWith(`${dir}/`)) {
      const content = await readFile(abs).catch(() => {
        throw new StatusError(
          1,
          `unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${abs}: no such file or directory`,
        );
      });
      return await createBuildContext({ dir, dockerfile: 'Dockerfile', extraDockerfile: { content } });
    }
    return await createBuildContext({ dir, dockerfile: abs.slice(dir.length + 1) });
  } catch (err) {
    if (err instanceof BuildContextError) throw new StatusError(1, err.message);
    throw err;
  }
}

function buildQuery(
  flags: Record<string, unknown>,
  ctx: CommandContext,
  dockerfileName: string | undefined,
  remote: string | undefined,
): string {
  const q = new URLSearchParams();
  for (const t of (flags.tag as string[] | undefined) ?? []) {
    parseImageRef(t);
    q.append('t', t);
  }
  if (remote) q.set('remote', remote);
  if (dockerfileName) q.set('dockerfile', dockerfileName);
  if (flags.quiet) q.set('q', '1');
  if (flags['no-cache']) q.set('nocache', '1');
  q.set('rm', flags.rm === false ? '0' : '1');
  if (flags['force-rm']) q.set('forcerm', '1');
  if (flags.pull) q.set('pull', '1');
  const args = (flags['build-arg'] as string[] | undefined) ?? [];
  q.set('buildargs', JSON.stringify(keyValueMap(args, ctx.env, true)));
  const labels = (flags.label as string[] | undefined) ?? [];
  q.set('labels', JSON.stringify(keyValueMap(labels, ctx.env, false)));
  if (flags.target) q.set('target', String(flags.target));
  if (flags.network) q.set('networkmode', String(flags.network));
  if (flags.platform) q.set('platform', String(flags.platform));
  const cacheFrom = (flags['cache-from'] as string[] | undefined) ?? [];
  if (cacheFrom.length > 0) q.set('cachefrom', JSON.stringify(cacheFrom));
  return q.toString();
}

export const buildCommand: SubCommand = {
  name: 'build',
  usage: 'build [OPTIONS] PATH | URL | -',
  summary: 'Build an image from a Dockerfile',
  interspersed: true,
  args: { min: 1, max: 1 },
  flags: [
    { name: 'build-arg', type: 'list', description: 'Set build-time variables' },
    { name: 'cache-from', type: 'list', valueName: 'strings', description: 'Images to consider as cache sources' },
    { name: 'file', short: 'f', type: 'string', description: "Name of the Dockerfile (Default is 'PATH/Dockerfile')" },
    { name: 'force-rm', type: 'bool', description: 'Always remove intermediate containers' },
    { name: 'iidfile', type: 'string', description: 'Write the image ID to the file' },
    { name: 'label', type: 'list', description: 'Set metadata for an image' },
    { name: 'network', type: 'string', description: 'Set the networking mode for the RUN instructions during build' },
    { name: 'no-cache', type: 'bool', description: 'Do not use cache when building the image' },
    { name: 'platform', type: 'string', description: 'Set platform if server is multi-platform capable' },
    { name: 'pull', type: 'bool', description: 'Always attempt to pull a newer version of the image' },
    { name: 'quiet', short: 'q', type: 'bool', description: 'Suppress the build output and print image ID on success' },
    { name: 'rm', type: 'bool', description: 'Remove intermediate containers after a successful build (default true)' },
    { name: 'tag', short: 't', type: 'list', description: 'Name and optionally a tag in the "name:tag" format' },
    { name: 'target', type: 'string', description: 'Set the target build stage to build.' },
  ],
  async run(ctx, { flags, args }) {
    const out = ctx.streams.stdout;
    const source = args[0] ?? '';
    const dockerfileFlag = flags.file as string | undefined;
    const context = await prepareContext(ctx, source, dockerfileFlag);
    const remote = context ? undefined : source;
    const dockerfileName = context ? context.dockerfileName : dockerfileFlag;
    const query = buildQuery(flags, ctx, dockerfileName, remote);
    const quiet = flags.quiet === true;
    const tty = out.isTTY === true;
    const status = (): string => `Sending build context to Docker daemon  ${humanSize(context?.sent() ?? 0)}`;
    let ticker: NodeJS.Timeout | undefined;
    if (context && tty && !quiet) ticker = setInterval(() => out.write(`${status()}\r`), 200);
    let res;
    try {
      res = await uploadStream(ctx.client, 'POST', `/build?${query}`, {
        headers: {
          'Content-Type': 'application/x-tar',
          'X-Registry-Config': await registryConfigHeader(ctx),
        },
        body: context?.stream,
      });
    } finally {
      if (ticker) clearInterval(ticker);
    }
    // With -q docker keeps this line and the build log, and shows them only if the build fails.
    const progress = context ? `${status()}\r\r\n` : '';
    if (!quiet) out.write(progress);
    let imageId = '';
    let quietOutput = '';
    const sink = quiet ? { write: (s: string) => ((quietOutput += s), true) } : out;
    try {
      await displayJSONMessages(readJSONStream<JSONMessage>(res), sink, {
        isTerminal: !quiet && tty,
        width: out.columns,
        onAux: (m) => {
          const id = (m.aux as { ID?: unknown } | undefined)?.ID;
          if (typeof id === 'string') imageId = id;
        },
      });
    } catch (err) {
      if (err instanceof JSONMessageError) {
        if (quiet) ctx.streams.stderr.write(`${progress}${quietOutput}`);
        throw new StatusError(err.code || 1, err.message);
      }
      throw err;
    }
    if (quiet) out.write(quietOutput);
    if (flags.iidfile) {
      if (!imageId) imageId = quietOutput.trim();
      await writeFile(String(flags.iidfile), imageId, { mode: 0o644 });
    }
    return 0;
  },
};
