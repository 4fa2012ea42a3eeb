export { type ApiOptions, type ApiResponse, api, jsonLines, socketPathOf } from './api.js';
export {
  BUSYBOX_BUILDER_VERSION,
  busyboxLayout,
  fixturesDir,
  inspectRemote,
  type PushOptions,
  pushImage,
} from './busybox.js';
export { cleanupDirs, mountsUnder, processesUnder, unmountUnder } from './cleanup.js';
export { type ClientOptions, docker, skiff } from './clients.js';
export { crunOnThisHost } from './crun.js';
export {
  type Daemon,
  type DaemonOptions,
  DaemonStartError,
  expectStartFailure,
  type StartFailure,
  type StorageDriverName,
  startDaemon,
} from './daemon.js';
export {
  type DockerdPeer,
  type DockerdPeerOptions,
  DockerdPeerStartError,
  DockerdPeerUnavailable,
  dockerdPeerBinary,
  dockerdPeerDir,
  pullIntoPeer,
  startDockerdPeer,
} from './dockerd-peer.js';
export { driverDaemons } from './driver-daemons.js';
export { type LayeredImage, layerBytes, layeredImage } from './layered-image.js';
export { type BusyboxRegistry, registryWithBusybox } from './fixture.js';
export { describeExit, type ExitStatus, ManagedProcess } from './managed-process.js';
export { dockerCli, nodeBin, repoRoot, skiffBin, skiffdBin } from './paths.js';
export { CommandError, freePort, type RunResult, run, runOk, sleep } from './proc.js';
export { type Registry, RegistryStartError, type StartRegistryOptions, startRegistry } from './registry.js';
export {
  bcryptHash,
  htpasswdAuthConfig,
  startTokenServer,
  type TokenRequest,
  type TokenServer,
} from './registry-auth.js';
export { type CertFiles, createTestCa, type TestCa } from './tls-certs.js';
export { type RestartableDaemon, startRestartableDaemon } from './restartable.js';
