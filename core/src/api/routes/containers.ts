import type { FastifyPluginAsync } from 'fastify';
import type { WaitCondition } from '../../containers/exit-waiters.js';
import { InvalidParameterError } from '../../plugin-api/errors.js';
import { engineHeaders } from '../api-version.js';
import type { ApiDeps } from '../deps.js';
import { boolParam, intParam, parseFilters } from '../query.js';
import { entryNanos, timeParamNanos } from '../log-time.js';
import { encodeEntry } from '../stdcopy.js';
import { containerInspect, containerSummary, withSizes } from '../views.js';
import { containerFilter } from '../container-filters.js';
import { listedSizes } from '../../containers/container-size.js';
import { attachSink } from './attach-sink.js';
import { withMounts } from './volumes.js';

type Q = Record<string, string | undefined>;
type P = { id: string };

const CONDITIONS: WaitCondition[] = ['not-running', 'next-exit', 'removed'];

export const containerRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (app, { deps }) => {
  const { containers } = deps;

  app.post('/containers/create', async (req, reply) => {
    const type = req.headers['content-type'];
    if (type && !type.startsWith('application/json')) {
      throw new InvalidParameterError(`Content-Type specified (${type}) must be 'application/json'`);
    }
    const name = (req.query as Q).name;
    const created = await containers.create(req.body, name || undefined);
    return reply.code(201).send(created);
  });

  app.get('/containers/json', async (req) => {
    const q = req.query as Q;
    const all = boolParam(q.all);
    const limit = intParam(q.limit, 'limit') ?? -1;
    const filters = parseFilters(q.filters);
    const keep = containerFilter(filters, (ref) => containers.get(ref));
    // As moby's includeContainerInList: a limit (`ps -l`, `-n`) lists stopped containers too.
    const stoppedToo = all || limit > 0 || filters.has('status');
    const namesOf = containers.namesOf();
    let list = containers
      .list()
      .filter((c) => stoppedToo || c.State.Running || c.State.Restarting)
      .map((c) => ({ c, view: withMounts(containerSummary(c, deps.networking?.containers, namesOf(c)), deps) }))
      .filter(keep);
    if (limit > 0) list = list.slice(0, limit);
    const size = boolParam(q.size);
    return Promise.all(
      list.map(async ({ c, view }) => (size ? withSizes(view, listedSizes(await containers.sizes(c))) : view)),
    );
  });

  app.get<{ Params: P }>('/containers/:id/json', async (req) => {
    const c = containers.get(req.params.id);
    const view = withMounts(containerInspect(c, deps.networking?.containers), deps);
    return boolParam((req.query as Q).size) ? { ...view, ...(await containers.sizes(c)) } : view;
  });

  app.post<{ Params: P }>('/containers/:id/start', async (req, reply) => {
    await containers.start(req.params.id);
    return reply.code(204).send();
  });

  app.post<{ Params: P }>('/containers/:id/kill', async (req, reply) => {
    await containers.kill(req.params.id, (req.query as Q).signal || 'KILL');
    return reply.code(204).send();
  });

  app.post<{ Params: P }>('/containers/:id/stop', async (req, reply) => {
    await containers.stop(req.params.id, intParam((req.query as Q).t, 't'));
    return reply.code(204).send();
  });

  app.post<{ Params: P }>('/containers/:id/resize', async (req, reply) => {
    const q = req.query as Q;
    const h = intParam(q.h, 'h') ?? 0;
    const w = intParam(q.w, 'w') ?? 0;
    await containers.resize(req.params.id, w, h);
    return reply.code(200).send();
  });

  app.post<{ Params: P }>('/containers/:id/restart', async (req, reply) => {
    await containers.restart(req.params.id, intParam((req.query as Q).t, 't'));
    return reply.code(204).send();
  });

  app.post<{ Params: P }>('/containers/:id/rename', async (req, reply) => {
    const name = (req.query as Q).name;
    if (!name) throw new InvalidParameterError('name is required');
    await containers.rename(req.params.id, name);
    return reply.code(204).send();
  });

  app.post('/containers/prune', async (req) => {
    const { deleted, reclaimed } = await containers.prune(parseFilters((req.query as Q).filters));
    // dockerd answers null, not [], when nothing was removed.
    return { ContainersDeleted: deleted.length ? deleted : null, SpaceReclaimed: reclaimed };
  });

  app.delete<{ Params: P }>('/containers/:id', async (req, reply) => {
    const q = req.query as Q;
    if (boolParam(q.link)) await containers.removeLink(req.params.id);
    else await containers.remove(req.params.id, { force: boolParam(q.force), volumes: boolParam(q.v) });
    return reply.code(204).send();
  });

  // Headers go out at once; the body when the condition is met (docker run deadlocks otherwise).
  app.post<{ Params: P }>('/containers/:id/wait', async (req, reply) => {
    const condition = ((req.query as Q).condition || 'not-running') as WaitCondition;
    if (!CONDITIONS.includes(condition)) throw new InvalidParameterError(`invalid condition: "${condition}"`);
    const c = containers.get(req.params.id);
    const abort = new AbortController();
    const result = containers.wait(c.Id, condition, abort.signal);
    reply.hijack();
    const res = reply.raw;
    res.on('close', () => abort.abort(new Error('client went away')));
    res.writeHead(200, { ...engineHeaders(), 'Content-Type': 'application/json' });
    res.flushHeaders();
    result.then(
      (r) => res.end(`${JSON.stringify(r)}\n`),
      (err) => {
        if (!res.destroyed)
          res.end(`${JSON.stringify({ Error: { Message: (err as Error).message }, StatusCode: -1 })}\n`);
      },
    );
    return reply;
  });

  // Attach without `Upgrade` (dockerode without hijack, testcontainers): 200 and a raw stream until close.
  app.post<{ Params: P }>('/containers/:id/attach', async (req, reply) => {
    const c = containers.get(req.params.id);
    reply.hijack();
    const socket = req.raw.socket;
    socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n`);
    const sink = attachSink(socket, c, new URLSearchParams(req.query as Record<string, string>));
    socket.on('close', () => containers.detach(c.Id, sink));
    containers.attach(c.Id, sink);
    return reply;
  });

  app.get<{ Params: P }>('/containers/:id/logs', async (req, reply) => {
    const q = req.query as Q;
    const stdout = boolParam(q.stdout);
    const stderr = boolParam(q.stderr);
    if (!stdout && !stderr) throw new InvalidParameterError('Bad parameters: you must choose at least one stream');
    const tailRaw = q.tail ?? 'all';
    const tailNum = tailRaw === 'all' ? undefined : intParam(tailRaw, 'tail');
    const abort = new AbortController();
    const { c, entries } = await containers.logs(req.params.id, {
      follow: boolParam(q.follow),
      tail: tailNum === undefined || tailNum < 0 ? undefined : tailNum,
      signal: abort.signal,
    });
    const timestamps = boolParam(q.timestamps);
    const since = timeParamNanos(q.since, 'since');
    const until = timeParamNanos(q.until, 'until');
    reply.hijack();
    const res = reply.raw;
    res.on('close', () => abort.abort(new Error('client went away')));
    res.writeHead(200, {
      ...engineHeaders(),
      'Content-Type': c.Config.Tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream',
    });
    res.flushHeaders();
    try {
      for await (const e of entries) {
        const t = entryNanos(e.time);
        if (since > 0n && t < since) continue;
        if (until > 0n && t > until) continue;
        if (e.stream === 'stdout' ? !stdout : !stderr) continue;
        if (!res.write(encodeEntry(e, { tty: c.Config.Tty, timestamps }))) {
          await new Promise((r) => res.once('drain', r));
        }
      }
    } catch (err) {
      if (!abort.signal.aborted) deps.log.warn('logs stream failed', { id: c.Id, error: err as Error });
    }
    res.end();
    return reply;
  });
};
