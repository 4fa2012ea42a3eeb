/**
 * A container's tree seen from the host without ever leaving it: paths resolved from pinned
 * directory fds (openat2 through koffi), tar extraction and tar packing relative to those fds.
 */
export { ArchiveEntryError, entryParts, type ExtractOptions, extractTar } from './extract.js';
export { goFileMode, goTime, packTree } from './pack.js';
export { type PinnedNode, PinnedRoot, type Resolved, type RootMount } from './pinned-root.js';
