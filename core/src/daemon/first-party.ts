/** First-party plugin packages loaded when installed (missing ones are simply not available). */
export const FIRST_PARTY_PLUGINS = [
  '@skiff/storage-overlay',
  '@skiff/storage-vfs',
  '@skiff/net-none',
  '@skiff/net-host',
  '@skiff/net-bridge',
  '@skiff/net-macvlan',
  '@skiff/net-overlay',
  '@skiff/clusterstore-etcd',
  '@skiff/firewall-nftables',
  '@skiff/runtime-linux',
  '@skiff/runtime-vm',
  '@skiff/volume-local',
];

/** Preferred storage drivers when the config names none, best first. */
export const STORAGE_PREFERENCE = ['overlay', 'vfs'];
