export const API_VERSION = '1.41';
export const MIN_API_VERSION = '1.12';
export const ENGINE_VERSION = '0.1.0';

/** Compares dotted API versions numerically ("1.9" < "1.12"). */
export function compareVersions(a: string, b: string): number {
  const [am = 0, an = 0] = a.split('.').map(Number);
  const [bm = 0, bn = 0] = b.split('.').map(Number);
  return am - bm || an - bn;
}

/** Headers dockerd puts on every response. */
export function engineHeaders(): Record<string, string> {
  return {
    'Api-Version': API_VERSION,
    'Docker-Experimental': 'false',
    Ostype: 'linux',
    Server: `skiff/${ENGINE_VERSION} (linux)`,
  };
}

const VERSIONED = /^\/v(\d+\.\d+)(\/.*)?$/;

/** Splits `/v1.41/containers/json?x` into the version and the unversioned URL. */
export function splitVersion(url: string): { version?: string; url: string } {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const m = VERSIONED.exec(path);
  if (!m) return { url };
  return { version: m[1], url: (m[2] ?? '/') + (q === -1 ? '' : url.slice(q)) };
}

/** dockerd's messages for versions it does not serve; undefined when fine. */
export function versionProblem(version: string | undefined): string | undefined {
  if (!version) return undefined;
  if (compareVersions(version, API_VERSION) > 0) {
    return `client version ${version} is too new. Maximum supported API version is ${API_VERSION}`;
  }
  if (compareVersions(version, MIN_API_VERSION) < 0) {
    return `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`;
  }
  return undefined;
}
