export { api, jsonLines, socketPathOf, type ApiOptions, type ApiResponse } from './api.js';
export {
  BUSYBOX_BUILDER_VERSION,
  busyboxLayout,
  fixturesDir,
  inspectRemote,
  pushImage,
  type PushOptions,
} from './busybox.js';
export { cleanupDirs, mountsUnder, processesUnder, unmountUnder } from './cleanup.js';
export { docker, skiff, type ClientOptions } from './clients.js';
export {
  type Daemon,
  type DaemonOptions,
  DaemonStartError,
  expectStartFailure,
  type StartFailure,
  startDaemon,
  type StorageDriverName,
} from './daemon.js';
export { describeExit, type ExitStatus, ManagedProcess } from './managed-process.js';
export { dockerCli, nodeBin, repoRoot, skiffBin, skiffdBin } from './paths.js';
export { CommandError, freePort, run, runOk, type RunResult, sleep } from './proc.js';
export { type Registry, RegistryStartError, startRegistry, type StartRegistryOptions } from './registry.js';
export { type BusyboxRegistry, registryWithBusybox } from './fixture.js';
