/** Build args every Dockerfile may use without declaring them (and that are kept out of history). */
export const PROXY_ARGS: ReadonlySet<string> = new Set([
  'HTTP_PROXY',
  'http_proxy',
  'HTTPS_PROXY',
  'https_proxy',
  'FTP_PROXY',
  'ftp_proxy',
  'NO_PROXY',
  'no_proxy',
  'ALL_PROXY',
  'all_proxy',
]);

/**
 * The `buildargs` of a build and which of them the Dockerfile used (moby's BuildArgs): values
 * given by the client win over ARG defaults; those no ARG declared are reported at the end.
 */
export class BuildArgs {
  private readonly referenced = new Set<string>();
  constructor(private readonly given: ReadonlyMap<string, string | null>) {}

  /** The client's value for `key` (null counts as not given). */
  value(key: string): string | undefined {
    return this.given.get(key) ?? undefined;
  }

  has(key: string): boolean {
    return this.given.has(key) && this.given.get(key) !== null;
  }

  reference(key: string): void {
    this.referenced.add(key);
  }

  /** Proxy args the client set, as `KEY=value` (they reach RUN without an ARG). */
  proxyEnv(): string[] {
    return [...this.given].flatMap(([k, v]) => (PROXY_ARGS.has(k) && v !== null ? [`${k}=${v}`] : []));
  }

  /** The line dockerd prints for args nothing used, or undefined. */
  unusedWarning(): string | undefined {
    const unused = [...this.given.keys()].filter((k) => !this.referenced.has(k) && !PROXY_ARGS.has(k)).sort();
    if (unused.length === 0) return undefined;
    return `[Warning] One or more build-args [${unused.join(' ')}] were not consumed\n`;
  }
}
