/**
 * Credentials for one registry, as the docker CLI sends them in `X-Registry-Auth`
 * (base64url JSON of its AuthConfig: username/password, or identitytoken, or registrytoken).
 */
export interface RegistryAuth {
  username?: string;
  password?: string;
  /** base64("username:password"), the form config.json stores. */
  auth?: string;
  /** An OAuth2 refresh token from a previous login; exchanged at the token realm. */
  identitytoken?: string;
  /** A bearer token to send to the registry as is. */
  registrytoken?: string;
  serveraddress?: string;
  email?: string;
}

export type Credentials =
  | { kind: 'none' }
  | { kind: 'basic'; username: string; password: string }
  | { kind: 'refresh'; username: string; token: string }
  | { kind: 'bearer'; token: string };

/** Reduces an AuthConfig to the one credential it carries. */
export function credentialsOf(auth: RegistryAuth | undefined): Credentials {
  if (!auth || typeof auth !== 'object') return { kind: 'none' };
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const registryToken = str(auth.registrytoken);
  if (registryToken) return { kind: 'bearer', token: registryToken };
  const identity = str(auth.identitytoken);
  if (identity) return { kind: 'refresh', username: str(auth.username) ?? '<token>', token: identity };
  let username = str(auth.username);
  let password = str(auth.password);
  const encoded = str(auth.auth);
  if (!username && encoded) {
    const decoded = Buffer.from(encoded, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i > 0) {
      username = decoded.slice(0, i);
      password = decoded.slice(i + 1);
    }
  }
  if (username && password !== undefined) return { kind: 'basic', username, password };
  return { kind: 'none' };
}

export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/**
 * Decodes an `X-Registry-Auth` header (base64url or base64 JSON). Like dockerd on pull
 * ("for a pull it is not an error if no auth was given"), an empty, `{}` or undecodable
 * header means anonymous.
 */
export function decodeRegistryAuth(header: string | undefined): RegistryAuth | undefined {
  if (!header) return undefined;
  let parsed: unknown;
  try {
    const text = Buffer.from(header.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const out: RegistryAuth = {};
  for (const key of [
    'username',
    'password',
    'auth',
    'identitytoken',
    'registrytoken',
    'serveraddress',
    'email',
  ] as const) {
    const v = (parsed as Record<string, unknown>)[key];
    if (typeof v === 'string' && v !== '') out[key] = v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** One challenge of a `WWW-Authenticate` header: scheme (lowercased) and its parameters. */
export interface AuthChallenge {
  scheme: string;
  params: Record<string, string>;
}

const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;

/**
 * Parses `WWW-Authenticate` (RFC 7235): several challenges, each a scheme followed by
 * comma-separated `name=value` or `name="quoted, \"value\""` parameters.
 */
export function parseWwwAuthenticate(header: string | string[] | undefined): AuthChallenge[] {
  const headers = Array.isArray(header) ? header : header === undefined ? [] : [header];
  const out: AuthChallenge[] = [];
  for (const h of headers) parseOne(h.slice(0, 16 * 1024), out);
  return out;
}

function parseOne(s: string, out: AuthChallenge[]): void {
  let i = 0;
  let current: AuthChallenge | undefined;
  const skipWs = () => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  const token = (): string => {
    TOKEN.lastIndex = i;
    const m = TOKEN.exec(s);
    if (!m) return '';
    i += m[0].length;
    return m[0];
  };
  while (i < s.length) {
    skipWs();
    if (s[i] === ',') {
      i++;
      continue;
    }
    const name = token();
    if (!name) {
      i++;
      continue;
    }
    skipWs();
    if (s[i] !== '=') {
      current = { scheme: name.toLowerCase(), params: Object.create(null) as Record<string, string> };
      out.push(current);
      continue;
    }
    i++;
    skipWs();
    let value = '';
    if (s[i] === '"') {
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < s.length) i++;
        value += s[i];
        i++;
      }
      i++;
    } else {
      // Lenient like Go's parser: an unquoted value runs to the next comma or space (realm=https://…).
      const start = i;
      while (i < s.length && s[i] !== ',' && s[i] !== ' ' && s[i] !== '\t') i++;
      value = s.slice(start, i);
    }
    if (current) current.params[name.toLowerCase()] = value;
  }
}
