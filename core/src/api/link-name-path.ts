/** The container routes below `/containers/:id/`. */
const ACTIONS = new Set([
  'archive',
  'attach',
  'changes',
  'exec',
  'export',
  'json',
  'kill',
  'logs',
  'pause',
  'rename',
  'resize',
  'restart',
  'start',
  'stats',
  'stop',
  'top',
  'unpause',
  'update',
  'wait',
]);

/**
 * dockerd routes `/containers/{name:.*}/json`: a legacy link's name (`web/db`, a name of the linked
 * container) travels in the path with its slash, which the docker CLI does not escape. Fastify's
 * `:id` is one segment, so the slash is escaped before routing (`/containers/web%2Fdb/json`).
 */
export function escapeLinkName(method: string | undefined, url: string): string {
  if (!url.startsWith('/containers/')) return url;
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const segs = path.slice('/containers/'.length).split('/');
  const linkName = segs.length === (method === 'DELETE' ? 2 : 3) && (method === 'DELETE' || ACTIONS.has(segs[2] ?? ''));
  if (!linkName) return url;
  return `/containers/${segs[0]}%2F${segs.slice(1).join('/')}${q === -1 ? '' : url.slice(q)}`;
}
