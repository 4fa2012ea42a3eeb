import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import type { BuildCache } from '../../build/build-cache.js';
import type { BuildOptions } from '../../build/builder.js';
import { type RegistryAuth, decodeRegistryAuth } from '../../images/registry-auth.js';
import { type ImageReference, parseReference } from '../../images/reference.js';
import { InvalidParameterError, NotImplementedError } from '../../plugin-api/errors.js';
import { lazy } from '../../util/lazy.js';
import type { ApiDeps } from '../deps.js';
import { ProgressStream } from '../progress-stream.js';
import { boolParam } from '../query.js';

type Q = Record<string, string | string[] | undefined>;
const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const one = (v: string | string[] | undefined): string => list(v).at(-1) ?? '';

/** A JSON object query parameter (`buildargs`, `labels`): string values (null allowed for buildargs). */
function jsonMap(raw: string, name: string, allowNull: boolean): Map<string, string | null> {
  if (raw === '') return new Map();
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (err) {
    throw new InvalidParameterError(`invalid ${name} JSON: ${(err as Error).message}`);
  }
  if (v === null) return new Map();
  if (typeof v !== 'object' || Array.isArray(v)) throw new InvalidParameterError(`${name} must be a JSON object`);
  const out = new Map<string, string | null>();
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (typeof x === 'string' || (allowNull && x === null)) out.set(k, x);
    else throw new InvalidParameterError(`${name}: the value of ${k} must be a string`);
  }
  return out;
}

/** `t`: each a name with an optional tag (latest by default); digests are refused as dockerd does. */
function parseTags(raw: string[]): ImageReference[] {
  return raw
    .filter((t) => t !== '')
    .map((t) => {
      let ref: ImageReference;
      try {
        ref = parseReference(t);
      } catch (err) {
        throw new InvalidParameterError(`invalid reference format: ${(err as Error).message}`);
      }
      if (ref.digest) throw new InvalidParameterError(`invalid reference format: ${t} has a digest`);
      return { domain: ref.domain, path: ref.path, tag: ref.tag ?? 'latest' };
    });
}

/** The resources and hosts the request gives RUN containers (`--add-host`, `--memory`, `--shm-size`, …). */
function runHostConfig(q: Q): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const ints: [string, string][] = [
    ['shmsize', 'ShmSize'],
    ['memory', 'Memory'],
    ['memswap', 'MemorySwap'],
    ['cpushares', 'CpuShares'],
    ['cpuperiod', 'CpuPeriod'],
    ['cpuquota', 'CpuQuota'],
  ];
  for (const [param, field] of ints) {
    const v = one(q[param]);
    if (v === '') continue;
    if (!/^-?\d+$/.test(v)) throw new InvalidParameterError(`invalid ${param}: ${v}`);
    if (Number(v) !== 0) out[field] = Number(v);
  }
  for (const [param, field] of [
    ['cpusetcpus', 'CpusetCpus'],
    ['cpusetmems', 'CpusetMems'],
    ['cgroupparent', 'CgroupParent'],
  ] as const) {
    if (one(q[param]) !== '') out[field] = one(q[param]);
  }
  const hosts = list(q.extrahosts)
    .flatMap((h) => h.split(','))
    .filter((h) => h !== '');
  if (hosts.length > 0) out.ExtraHosts = hosts;
  return out;
}

/** `X-Registry-Config`: base64 JSON of registry → AuthConfig. */
function registryConfig(header: string | string[] | undefined): Record<string, RegistryAuth> {
  if (typeof header !== 'string' || header === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(header.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8'));
  } catch {
    return {};
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return {};
  const out: Record<string, RegistryAuth> = {};
  for (const [host, cfg] of Object.entries(parsed as Record<string, unknown>)) {
    const auth = decodeRegistryAuth(Buffer.from(JSON.stringify(cfg)).toString('base64'));
    if (auth) out[host.replace(/^https?:\/\//, '').replace(/\/.*$/, '')] = auth;
    if (auth && host.startsWith('https://index.docker.io')) out['https://index.docker.io/v1/'] = auth;
  }
  return out;
}

const loadBuilder = lazy(async () => {
  const [stream, builder, context, dockerfile] = await Promise.all([
    import('../../build/build-stream.js'),
    import('../../build/builder.js'),
    import('../../build/context/index.js'),
    import('../../build/dockerfile.js'),
  ]);
  return { ...stream, ...builder, ...context, ...dockerfile };
});

/** `POST /build` (the classic builder) and `POST /build/prune`. */
export const buildRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (app, { deps }) => {
  const cache = (): BuildCache => {
    if (!deps.buildCache) throw new NotImplementedError('this engine was built without a builder');
    return deps.buildCache;
  };

  // What a build left in the temporary directory when the daemon died during it.
  const tmpRoot = join(deps.config.dataRoot, 'tmp');
  for (const name of await readdir(tmpRoot).catch(() => [] as string[])) {
    if (name.startsWith('build-')) await rm(join(tmpRoot, name), { recursive: true, force: true }).catch(() => {});
  }

  // Snapshots of steps that were under way then (build/builder.ts names them build-…).
  const { graph } = deps.images.local;
  for (const snap of await graph.list().catch(() => [])) {
    if (snap.key.startsWith('build-')) await graph.remove(snap.key).catch(() => {});
  }

  app.post('/build', async (req, reply) => {
    const q = req.query as Q;
    const body = (req.body as Readable | undefined) ?? req.raw;
    if (one(q.version) === '2') throw new InvalidParameterError('buildkit not supported by daemon');
    if (one(q.remote) !== '') throw new InvalidParameterError('remote build contexts are not supported');
    // As a dockerd without experimental features.
    if (boolParam(one(q.squash))) throw new InvalidParameterError('squash is only supported with experimental mode');
    const buildCache = cache();
    const opts = {
      tags: parseTags(list(q.t)),
      buildArgs: jsonMap(one(q.buildargs), 'buildargs', true),
      labels: Object.fromEntries(jsonMap(one(q.labels), 'labels', false)) as Record<string, string>,
      ...(one(q.target) ? { target: one(q.target) } : {}),
      noCache: boolParam(one(q.nocache)),
      pull: boolParam(one(q.pull)),
      rm: boolParam(q.rm === undefined ? undefined : one(q.rm), true),
      forceRm: boolParam(one(q.forcerm)),
      networkMode: one(q.networkmode) || 'default',
      runHostConfig: runHostConfig(q),
      ...(one(q.platform) ? { platform: one(q.platform) } : {}),
      registryAuth: registryConfig(req.headers['x-registry-config']),
    };
    const quiet = boolParam(one(q.q));
    // The client going away cancels the build. Node keeps a half-closed connection open for the
    // response, so the socket's end counts too (the docker CLI never half-closes while it waits).
    const abort = new AbortController();
    const socket = req.raw.socket;
    const gone = () => {
      if (!reply.raw.writableFinished) abort.abort(new Error('client disconnected'));
    };
    reply.raw.once('close', gone);
    socket.once('end', gone);
    socket.once('close', gone);
    await mkdir(tmpRoot, { recursive: true, mode: 0o700 });
    const dir = await mkdtemp(join(tmpRoot, 'build-'));
    const stream = new ProgressStream(reply);
    try {
      const { extractContext, locateDockerfile, parseDockerfile, BuildStream, Builder, StepFailedError } =
        await loadBuilder();
      await extractContext(body, dir, { signal: abort.signal });
      // Whatever follows the archive's end is drained, so that the connection's end can be seen.
      body.resume();
      const { content } = await locateDockerfile(dir, one(q.dockerfile) || 'Dockerfile');
      const df = parseDockerfile(content);
      const out = new BuildStream((m) => stream.push(m, true), quiet);
      const full: BuildOptions = { ...opts, contextDir: dir, signal: abort.signal };
      const builder = new Builder(
        { images: deps.images, containers: deps.containers, cache: buildCache, log: deps.log },
        full,
        out,
      );
      try {
        await builder.build(df);
      } catch (err) {
        // As dockerd: an error before any output is the HTTP answer; after some (or with the
        // text a quiet build held back) it goes in-band.
        if (!stream.isStarted && !out.holding) throw err;
        if (err instanceof StepFailedError) out.error(err.message, err.exitCode);
        else out.error((err as Error).message);
      }
    } finally {
      body.resume();
      await rm(dir, { recursive: true, force: true });
      socket.off('end', gone);
      socket.off('close', gone);
    }
    stream.end();
    return reply;
  });

  app.post('/build/prune', async () => {
    const ids = cache().prune();
    return { CachesDeleted: ids.length ? ids : null, SpaceReclaimed: 0 };
  });
};
