export { extractContext, readDockerignore } from './extract-context.js';
export { DockerfileNotFoundError, locateDockerfile } from './locate-dockerfile.js';
export { resolveSources } from './resolve-sources.js';
export { sourceChecksum } from './source-checksum.js';
export { copySources } from './copy-sources.js';
export { parseDockerignore, PatternMatcher } from './dockerignore.js';
export { decompressAny } from './decompress-any.js';
export type * from './types.js';
