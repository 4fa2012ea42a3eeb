import { createSign, randomBytes, X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { CommandError, run } from './proc.js';
import type { TestCa } from './tls-certs.js';

const BCRYPT_ALPHABET = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * A bcrypt hash (`$2b$`, cost 5) of `password`, as the registry's htpasswd backend wants. Made
 * with the system's crypt(3) (libxcrypt does bcrypt) through perl, so apache2-utils is not needed.
 */
export async function bcryptHash(password: string): Promise<string> {
  const bytes = randomBytes(22);
  const salt = `$2b$05$${[...bytes].map((b) => BCRYPT_ALPHABET[b % 64]).join('')}`;
  const r = await run('perl', ['-e', 'print crypt($ARGV[0], $ARGV[1])', password, salt]);
  const hash = r.stdout.trim();
  if (r.code !== 0 || !hash.startsWith('$2b$05$') || hash.length !== 60) {
    throw new CommandError(`crypt(3) cannot make bcrypt hashes here (got ${JSON.stringify(hash)}): ${r.stderr}`, r);
  }
  return hash;
}

/** Writes an htpasswd file for `users` and returns the registry's `auth:` lines for it. */
export async function htpasswdAuthConfig(dir: string, users: Record<string, string>): Promise<string[]> {
  const file = path.join(dir, 'htpasswd');
  const lines = await Promise.all(Object.entries(users).map(async ([u, p]) => `${u}:${await bcryptHash(p)}`));
  await writeFile(file, `${lines.join('\n')}\n`, { mode: 0o600 });
  return ['  htpasswd:', '    realm: skiff-test', `    path: ${JSON.stringify(file)}`];
}

export interface TokenRequest {
  method: string;
  query: URLSearchParams;
  account?: string;
  /** Whether the request carried a valid password, a wrong one, or none. */
  outcome: 'granted' | 'anonymous' | 'denied';
}

/** A docker token server (https on 127.0.0.1) for the registry's `auth: token:` backend. */
export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  requests: TokenRequest[];
  /** The registry's `auth:` lines pointing at this server. */
  authConfig: string[];
  stop(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

function parseScope(scope: string): { type: string; name: string; actions: string[] } | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last <= first) return undefined;
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(',') };
}

/**
 * Starts a token server: valid users get every action they ask for, anonymous callers get a
 * token without access, wrong passwords get 401 `{"details":"incorrect username or password"}`.
 * Tokens are RS256 JWTs signed by a key certified by `ca` and carry it in `x5c`; the registry
 * trusts `ca` as its `rootcertbundle`.
 */
export async function startTokenServer(ca: TestCa, users: Record<string, string>): Promise<TokenServer> {
  const signer = await ca.issue(`token-signer-${randomBytes(3).toString('hex')}`, {});
  const tls = await ca.issue(`token-tls-${randomBytes(3).toString('hex')}`, { hosts: ['127.0.0.1'] });
  const x5c = [new X509Certificate(signer.cert).raw.toString('base64')];
  const service = 'skiff-test-registry';
  const issuer = 'skiff-test-token-issuer';
  const requests: TokenRequest[] = [];

  const server: Server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname !== '/token' || req.method !== 'GET') return send(404, { details: 'not found' });
    const m = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
    let account: string | undefined;
    let outcome: TokenRequest['outcome'] = 'anonymous';
    if (m) {
      const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      account = decoded.slice(0, i);
      outcome = i > 0 && users[account] === decoded.slice(i + 1) ? 'granted' : 'denied';
    }
    requests.push({ method: req.method, query: url.searchParams, ...(account ? { account } : {}), outcome });
    if (outcome === 'denied') return send(401, { details: 'incorrect username or password' });
    const access =
      outcome === 'granted'
        ? url.searchParams
            .getAll('scope')
            .flatMap((s) => s.split(' '))
            .map(parseScope)
            .filter((s) => s !== undefined)
        : [];
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'RS256', x5c };
    const claims = {
      iss: issuer,
      sub: account ?? '',
      aud: url.searchParams.get('service') ?? service,
      exp: now + 300,
      nbf: now - 30,
      iat: now,
      jti: randomBytes(12).toString('hex'),
      access,
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = createSign('RSA-SHA256').update(input).sign(signer.key);
    const token = `${input}.${b64url(signature)}`;
    send(200, { token, access_token: token, expires_in: 300, issued_at: new Date(now * 1000).toISOString() });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const realm = `https://127.0.0.1:${port}/token`;
  return {
    realm,
    service,
    issuer,
    requests,
    authConfig: [
      '  token:',
      `    realm: ${JSON.stringify(realm)}`,
      `    service: ${service}`,
      `    issuer: ${issuer}`,
      `    rootcertbundle: ${JSON.stringify(ca.certFile)}`,
    ],
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
