import { parseDigest } from '../content/digest.js';
import { InvalidParameterError } from '../plugin-api/errors.js';

/**
 * Docker image references, parsed and normalised like docker/distribution's `reference`
 * package (`ParseNormalizedNamed`), whose grammar is:
 *
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [domain '/'] path-component ['/' path-component]*
 *   domain     := host [':' port-number]
 *   tag        := /[\w][\w.-]{0,127}/
 */
export interface ImageReference {
  /** Registry host[:port], e.g. `docker.io`, `127.0.0.1:5000`. */
  domain: string;
  /** Repository path inside the registry, e.g. `library/busybox`. */
  path: string;
  tag?: string;
  digest?: string;
}

export const DEFAULT_DOMAIN = 'docker.io';
export const DEFAULT_TAG = 'latest';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
const NAME_TOTAL_LENGTH_MAX = 255;

const alphaNumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alphaNumeric}(?:${separator}${alphaNumeric})*`;
const domainNameComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const ipv6Address = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainName = `${domainNameComponent}(?:\\.${domainNameComponent})*`;
const domainAndPort = `(?:${domainName}|${ipv6Address})(?::[0-9]+)?`;
const tagPattern = '[\\w][\\w.-]{0,127}';
const digestPattern = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const remoteName = `${pathComponent}(?:/${pathComponent})*`;
const namePattern = `(?:${domainAndPort}/)?${remoteName}`;

const REFERENCE = new RegExp(`^(${namePattern})(?::(${tagPattern}))?(?:@(${digestPattern}))?$`);
const ANCHORED_NAME = new RegExp(`^(?:(${domainAndPort})/)?(${remoteName})$`);
const ANCHORED_TAG = new RegExp(`^${tagPattern}$`);
const ANCHORED_IDENTIFIER = /^[a-f0-9]{64}$/;

function invalid(message: string): never {
  throw new InvalidParameterError(message);
}

/** Like distribution's `splitDockerDomain`: the first component is a domain only if it looks like one. */
function splitDockerDomain(name: string): { domain: string; remainder: string } {
  const i = name.indexOf('/');
  let domain: string;
  let remainder: string;
  const first = i === -1 ? '' : name.slice(0, i);
  if (i === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = DEFAULT_DOMAIN;
    remainder = name;
  } else {
    domain = first;
    remainder = name.slice(i + 1);
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return { domain, remainder };
}

/**
 * Parses and normalises a reference (`busybox` → domain `docker.io`, path `library/busybox`).
 * No default tag is added: use `withDefaultTag` for that. Throws InvalidParameterError with
 * the messages dockerd gives.
 */
export function parseReference(s: string): ImageReference {
  if (typeof s !== 'string') invalid('invalid reference format');
  if (ANCHORED_IDENTIFIER.test(s)) {
    invalid(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  }
  const { domain, remainder } = splitDockerDomain(s);
  const tagSep = remainder.indexOf(':');
  const remote = tagSep > -1 ? remainder.slice(0, tagSep) : remainder;
  if (remote.toLowerCase() !== remote) invalid('invalid reference format: repository name must be lowercase');
  return parseCanonical(`${domain}/${remainder}`);
}

/** distribution's `Parse` on an already-normalised string. */
function parseCanonical(s: string): ImageReference {
  const m = REFERENCE.exec(s);
  if (!m) {
    if (s === '') invalid('repository name must have at least one component');
    if (REFERENCE.test(s.toLowerCase())) invalid('repository name must be lowercase');
    invalid('invalid reference format');
  }
  const [, name, tag, digest] = m;
  if (name!.length > NAME_TOTAL_LENGTH_MAX) {
    invalid(`repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`);
  }
  const nm = ANCHORED_NAME.exec(name!);
  if (!nm || nm[1] === undefined) invalid('invalid reference format');
  const ref: ImageReference = { domain: nm[1], path: nm[2]! };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) {
    parseDigest(digest);
    ref.digest = digest;
  }
  return ref;
}

/** Throws unless `tag` is a valid tag (`[\w][\w.-]{0,127}`). */
export function validateTag(tag: string): void {
  if (typeof tag !== 'string' || !ANCHORED_TAG.test(tag)) invalid('invalid tag format');
}

/** Adds `:latest` when the reference has neither tag nor digest (distribution's `TagNameOnly`). */
export function withDefaultTag(ref: ImageReference): ImageReference {
  if (ref.tag !== undefined || ref.digest !== undefined) return ref;
  return { ...ref, tag: DEFAULT_TAG };
}

/** `docker.io/library/busybox`. */
export function repositoryName(ref: ImageReference): string {
  return `${ref.domain}/${ref.path}`;
}

/** The short name users type: `busybox`, `user/app`, `127.0.0.1:5000/busybox`. */
export function familiarName(ref: ImageReference): string {
  if (ref.domain !== DEFAULT_DOMAIN) return repositoryName(ref);
  if (ref.path.startsWith(OFFICIAL_REPO_PREFIX)) {
    const rest = ref.path.slice(OFFICIAL_REPO_PREFIX.length);
    if (!rest.includes('/')) return rest;
  }
  return ref.path;
}

function suffix(ref: ImageReference): string {
  return (ref.tag !== undefined ? `:${ref.tag}` : '') + (ref.digest !== undefined ? `@${ref.digest}` : '');
}

/** `busybox:latest`, `127.0.0.1:5000/a@sha256:…`. */
export function familiarString(ref: ImageReference): string {
  return familiarName(ref) + suffix(ref);
}

/** `docker.io/library/busybox:latest`. */
export function canonicalString(ref: ImageReference): string {
  return repositoryName(ref) + suffix(ref);
}
