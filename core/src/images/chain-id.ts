import { createHash } from 'node:crypto';

/** OCI ChainID: chain(L0) = diff(L0); chain(Ln) = sha256(chain(Ln-1) + " " + diff(Ln)). */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) {
    const prev = out.at(-1);
    out.push(prev ? `sha256:${createHash('sha256').update(`${prev} ${d}`).digest('hex')}` : d);
  }
  return out;
}

/** The snapshot key of a committed layer: the hex of its chain ID (no colon, safe in mount options). */
export function layerKey(chainId: string): string {
  return chainId.replace(/^sha256:/, '');
}
