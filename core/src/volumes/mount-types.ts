/** One mount of a container, stored at create and shown as `Mounts` in inspect (Docker's shape plus ours). */
export interface MountPoint {
  Type: 'bind' | 'volume' | 'tmpfs';
  /** Volume name (volumes only). */
  Name?: string;
  /** Host path: the bind source, or the volume's mountpoint. */
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
  /** Populate an empty volume from the image's content at Destination on start. */
  CopyData?: boolean;
  /** The volume was created for this container (removed with `rm -v`). */
  Anonymous?: boolean;
  /** tmpfs mount options (`size=…`, `mode=…`). */
  TmpfsData?: string;
}
