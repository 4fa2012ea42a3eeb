// Image references normalised like github.com/distribution/reference
// (ParseNormalizedNamed / FamiliarString / TagNameOnly).

export const DEFAULT_DOMAIN = 'docker.io';
const OFFICIAL_PREFIX = 'library/';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';

const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const HOST = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])`;
const DOMAIN = `${HOST}(?::[0-9]+)?`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const REFERENCE_RE = new RegExp(
  `^((?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)(?::(${TAG}))?(?:@(${DIGEST}))?$`,
);
const ANCHORED_ID = /^[a-f0-9]{64}$/;
const NAME_MAX = 255;

export class InvalidReferenceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidReferenceError';
  }
}

export interface ImageReference {
  /** Registry host, e.g. "docker.io" or "127.0.0.1:5000". */
  domain: string;
  /** Repository path inside the registry, e.g. "library/busybox". */
  path: string;
  tag?: string;
  digest?: string;
}

function splitDomain(name: string): { domain: string; remainder: string } {
  const slash = name.indexOf('/');
  const first = slash >= 0 ? name.slice(0, slash) : '';
  if (slash === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    return { domain: DEFAULT_DOMAIN, remainder: name };
  }
  return { domain: first, remainder: name.slice(slash + 1) };
}

/** reference.ParseNormalizedNamed: "busybox" → docker.io/library/busybox. */
export function parseNormalizedNamed(input: string): ImageReference {
  if (ANCHORED_ID.test(input)) {
    throw new InvalidReferenceError(
      `invalid repository name repository name (${input}), cannot specify 64-byte hexadecimal strings`,
    );
  }
  // Split name from tag/digest before working on the domain (the tag may contain ':').
  const at = input.indexOf('@');
  const namePart = at >= 0 ? input.slice(0, at) : input;
  const lastColon = namePart.lastIndexOf(':');
  const lastSlash = namePart.lastIndexOf('/');
  const bareName = lastColon > lastSlash ? namePart.slice(0, lastColon) : namePart;
  let { domain, remainder } = splitDomain(bareName);
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_PREFIX + remainder;
  if (remainder.toLowerCase() !== remainder) {
    throw new InvalidReferenceError(`invalid reference format: repository name (${remainder}) must be lowercase`);
  }
  const full = `${domain}/${remainder}${input.slice(bareName.length)}`;
  const match = REFERENCE_RE.exec(full);
  if (!match || input === '') throw new InvalidReferenceError('invalid reference format');
  const name = match[1] ?? '';
  if (name.length > NAME_MAX) throw new InvalidReferenceError('repository name must not be more than 255 characters');
  const ref: ImageReference = { domain, path: name.slice(domain.length + 1) };
  if (match[2]) ref.tag = match[2];
  if (match[3]) ref.digest = match[3];
  return ref;
}

/** Fully-qualified repository name: "docker.io/library/busybox". */
export function fullName(ref: ImageReference): string {
  return `${ref.domain}/${ref.path}`;
}

/** Short repository name: "busybox", "127.0.0.1:5000/busybox". */
export function familiarName(ref: ImageReference): string {
  if (ref.domain !== DEFAULT_DOMAIN) return fullName(ref);
  return ref.path.startsWith(OFFICIAL_PREFIX) && ref.path.split('/').length === 2
    ? ref.path.slice(OFFICIAL_PREFIX.length)
    : ref.path;
}

function suffix(ref: ImageReference): string {
  return `${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** reference.String(): "docker.io/library/busybox:latest". */
export function referenceString(ref: ImageReference): string {
  return fullName(ref) + suffix(ref);
}

/** reference.FamiliarString(): "busybox:latest". */
export function familiarString(ref: ImageReference): string {
  return familiarName(ref) + suffix(ref);
}

/** reference.TagNameOnly: adds ":latest" when there is neither tag nor digest. */
export function tagNameOnly(ref: ImageReference): ImageReference {
  return ref.tag || ref.digest ? ref : { ...ref, tag: 'latest' };
}
