// The docker CLI's config file ($DOCKER_CONFIG/config.json, default ~/.docker/config.json): read
// leniently, rewritten atomically with every field this client does not know kept as it was.

import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export const CONFIG_FILE_NAME = 'config.json';

/** One entry of "auths"; `auth` is base64("user:password"). */
export interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
  email?: string;
  [key: string]: unknown;
}

export interface DockerConfigData {
  auths?: Record<string, AuthEntry>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [key: string]: unknown;
}

export class ConfigFileError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`error loading config file: ${file}: ${message}`);
    this.name = 'ConfigFileError';
  }
}

/** $DOCKER_CONFIG or ~/.docker. */
export function configDir(env: NodeJS.ProcessEnv): string {
  const fromEnv = env.DOCKER_CONFIG;
  if (fromEnv && fromEnv.trim() !== '') return fromEnv;
  return join(env.HOME && env.HOME !== '' ? env.HOME : homedir(), '.docker');
}

export function configFilePath(env: NodeJS.ProcessEnv): string {
  return join(configDir(env), CONFIG_FILE_NAME);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates the shape of the fields this client uses; other fields are left alone. */
export function parseConfig(text: string, file: string): DockerConfigData {
  if (text.trim() === '') return {};
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ConfigFileError(file, (err as Error).message);
  }
  if (!isRecord(data)) throw new ConfigFileError(file, 'the file does not hold a JSON object');
  if (data.auths !== undefined && data.auths !== null) {
    if (!isRecord(data.auths) || !Object.values(data.auths).every(isRecord)) {
      throw new ConfigFileError(file, '"auths" must map registry names to objects');
    }
  }
  if (data.credsStore !== undefined && typeof data.credsStore !== 'string') {
    throw new ConfigFileError(file, '"credsStore" must be a string');
  }
  if (data.credHelpers !== undefined && data.credHelpers !== null) {
    if (!isRecord(data.credHelpers) || !Object.values(data.credHelpers).every((v) => typeof v === 'string')) {
      throw new ConfigFileError(file, '"credHelpers" must map registry names to helper names');
    }
  }
  return data as DockerConfigData;
}

export async function loadConfig(file: string): Promise<DockerConfigData> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ConfigFileError(file, (err as Error).message);
  }
  return parseConfig(text, file);
}

/** Writes the file atomically (temp file + rename) with mode 0600, tab-indented like docker. */
export async function saveConfig(file: string, data: DockerConfigData): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, `${JSON.stringify(data, null, '\t')}\n`, { mode: 0o600 });
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** base64("user:password"), the form of "auth" in config.json. */
export function encodeAuth(username: string, password: string): string {
  return Buffer.from(`${username}:${password}`, 'utf8').toString('base64');
}

/** The user and password inside an "auth" value; throws for malformed values. */
export function decodeAuth(auth: string): { username: string; password: string } {
  const text = Buffer.from(auth, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) throw new Error('invalid auth configuration file: "auth" is not base64("user:password")');
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}
