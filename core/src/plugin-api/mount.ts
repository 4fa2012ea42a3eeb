/** A mount a driver describes instead of performing (containerd's snapshotter model). */
export interface Mount {
  /** `bind`, `overlay`, `tmpfs`, … as for mount(8) `-t`; `bind` sources are host paths. */
  type: string;
  source: string;
  /** Relative target inside the mount point; absent for the root mount. */
  target?: string;
  options: string[];
}
