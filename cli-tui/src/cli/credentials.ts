// Registry credentials like the docker CLI keeps them: in config.json "auths", or in a credential
// helper (`docker-credential-<name> get|store|erase`) chosen by "credHelpers" (per registry) or
// "credsStore" (all registries).

import { spawn } from 'node:child_process';
import { type DockerConfigData, decodeAuth, encodeAuth, loadConfig, saveConfig } from './docker-config.js';

/** Docker Hub's key in config.json and what `docker login` sends for it. */
export const INDEX_SERVER = 'https://index.docker.io/v1/';
const TOKEN_USERNAME = '<token>';
const NOT_FOUND = 'credentials not found in native keychain';

export interface AuthConfig {
  username?: string;
  password?: string;
  serveraddress: string;
  identitytoken?: string;
  registrytoken?: string;
}

export class CredentialHelperError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CredentialHelperError';
  }
}

/** credentials.ConvertToHostname: "https://host:5000/v2/" → "host:5000". */
export function convertToHostname(url: string): string {
  let s = url;
  if (s.startsWith('http://')) s = s.slice(7);
  else if (s.startsWith('https://')) s = s.slice(8);
  const slash = s.indexOf('/');
  return slash >= 0 ? s.slice(0, slash) : s;
}

/** The config.json key for the registry of an image whose domain is `domain`. */
export function registryKey(domain: string): string {
  return domain === 'docker.io' || domain === 'index.docker.io' ? INDEX_SERVER : domain;
}

/** The X-Registry-Auth header value: base64url of the JSON auth config (docker's EncodeAuthConfig). */
export function encodeAuthHeader(auth: AuthConfig | undefined): string {
  if (!auth) return 'e30=';
  const body: Record<string, string> = {};
  for (const key of ['username', 'password', 'serveraddress', 'identitytoken', 'registrytoken'] as const) {
    const v = auth[key];
    if (v) body[key] = v;
  }
  return Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
}

interface HelperResult {
  code: number;
  stdout: string;
  stderr: string;
}

function runHelper(name: string, action: string, input: string, env: NodeJS.ProcessEnv): Promise<HelperResult> {
  const program = `docker-credential-${name}`;
  return new Promise((resolve, reject) => {
    const child = spawn(program, [action], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'ENOENT' ? `exec: "${program}": executable file not found in $PATH` : err.message;
      reject(new CredentialHelperError(why));
    });
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    // A helper that exits without reading its input must not crash us with EPIPE.
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

export interface CredentialStore {
  get(server: string): Promise<AuthConfig | undefined>;
  store(auth: AuthConfig): Promise<void>;
  erase(server: string): Promise<void>;
}

/** Credentials inside config.json itself. `config` is saved to `file` after every change. */
export class FileStore implements CredentialStore {
  constructor(
    private readonly file: string,
    private readonly config: DockerConfigData,
  ) {}

  private key(server: string): string | undefined {
    const auths = this.config.auths ?? {};
    if (server in auths) return server;
    const host = convertToHostname(server);
    return Object.keys(auths).find((k) => convertToHostname(k) === host);
  }

  async get(server: string): Promise<AuthConfig | undefined> {
    const key = this.key(server);
    if (key === undefined) return undefined;
    const entry = this.config.auths?.[key] ?? {};
    const auth: AuthConfig = { serveraddress: key };
    if (entry.auth) Object.assign(auth, decodeAuth(entry.auth));
    else {
      if (entry.username) auth.username = entry.username;
      if (entry.password) auth.password = entry.password;
    }
    if (entry.identitytoken) auth.identitytoken = entry.identitytoken;
    if (entry.registrytoken) auth.registrytoken = entry.registrytoken;
    return auth;
  }

  async store(auth: AuthConfig): Promise<void> {
    const entry: Record<string, string> = {};
    if (auth.username || auth.password) entry.auth = encodeAuth(auth.username ?? '', auth.password ?? '');
    if (auth.identitytoken) entry.identitytoken = auth.identitytoken;
    if (auth.registrytoken) entry.registrytoken = auth.registrytoken;
    this.config.auths = { ...this.config.auths, [auth.serveraddress]: entry };
    await saveConfig(this.file, this.config);
  }

  async erase(server: string): Promise<void> {
    const auths = this.config.auths;
    if (!auths || !(server in auths)) return;
    delete auths[server];
    await saveConfig(this.file, this.config);
  }
}

/** A credential helper; config.json only keeps an empty "auths" entry per registry, like docker. */
export class HelperStore implements CredentialStore {
  constructor(
    readonly helper: string,
    private readonly file: FileStore,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  async get(server: string): Promise<AuthConfig | undefined> {
    const r = await runHelper(this.helper, 'get', server, this.env);
    const out = r.stdout.trim();
    if (r.code !== 0) {
      if (out === NOT_FOUND) return undefined;
      throw new CredentialHelperError(`error getting credentials - err: exit status ${r.code}, out: \`${out}\``);
    }
    let creds: { ServerURL?: unknown; Username?: unknown; Secret?: unknown };
    try {
      creds = JSON.parse(out) as typeof creds;
    } catch {
      throw new CredentialHelperError(
        `error getting credentials - err: invalid JSON from ${this.helper}, out: \`${out}\``,
      );
    }
    const username = typeof creds.Username === 'string' ? creds.Username : '';
    const secret = typeof creds.Secret === 'string' ? creds.Secret : '';
    if (username === TOKEN_USERNAME) return { serveraddress: server, identitytoken: secret };
    return { serveraddress: server, username, password: secret };
  }

  async store(auth: AuthConfig): Promise<void> {
    const body = auth.identitytoken
      ? { ServerURL: auth.serveraddress, Username: TOKEN_USERNAME, Secret: auth.identitytoken }
      : { ServerURL: auth.serveraddress, Username: auth.username ?? '', Secret: auth.password ?? '' };
    const r = await runHelper(this.helper, 'store', JSON.stringify(body), this.env);
    if (r.code !== 0) {
      throw new CredentialHelperError(
        `error storing credentials - err: exit status ${r.code}, out: \`${r.stdout.trim() || r.stderr.trim()}\``,
      );
    }
    await this.file.store({ serveraddress: auth.serveraddress });
  }

  async erase(server: string): Promise<void> {
    const r = await runHelper(this.helper, 'erase', server, this.env);
    const out = r.stdout.trim();
    if (r.code !== 0 && out !== NOT_FOUND) {
      throw new CredentialHelperError(`error erasing credentials - err: exit status ${r.code}, out: \`${out}\``);
    }
    await this.file.erase(server);
  }
}

/** The loaded config file and the store that holds each registry's credentials. */
export class Credentials {
  readonly fileStore: FileStore;

  constructor(
    readonly file: string,
    readonly config: DockerConfigData,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    this.fileStore = new FileStore(file, config);
  }

  static async load(file: string, env: NodeJS.ProcessEnv): Promise<Credentials> {
    return new Credentials(file, await loadConfig(file), env);
  }

  /** The helper in charge of `server`, if any: credHelpers by hostname, else credsStore. */
  helperFor(server: string): string | undefined {
    const helpers = this.config.credHelpers ?? {};
    const byHost = helpers[convertToHostname(server)] ?? helpers[server];
    if (byHost) return byHost;
    return this.config.credsStore || undefined;
  }

  storeFor(server: string): CredentialStore {
    const helper = this.helperFor(server);
    return helper ? new HelperStore(helper, this.fileStore, this.env) : this.fileStore;
  }

  /** Stored credentials for `server` (a config key such as INDEX_SERVER or "host:port"). */
  async get(server: string): Promise<AuthConfig | undefined> {
    return this.storeFor(server).get(server);
  }

  /** Every registry in "auths" and "credHelpers" with its credentials (X-Registry-Config for builds). */
  async all(): Promise<Record<string, AuthConfig>> {
    const servers = new Set([...Object.keys(this.config.auths ?? {}), ...Object.keys(this.config.credHelpers ?? {})]);
    const out: Record<string, AuthConfig> = {};
    for (const server of servers) {
      const auth = await this.get(server).catch(() => undefined);
      if (auth) out[server] = auth;
    }
    return out;
  }
}
