/** The PATH dockerd gives a process whose image and request set none (system.DefaultPathEnv). */
export const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * A container process's environment as dockerd builds it (CreateDaemonEnvironment): PATH, HOSTNAME,
 * TERM=xterm with a terminal, its legacy links' variables, then the container's Env replacing or
 * adding to those.
 */
export function processEnv(
  config: { Hostname: string; Env?: string[] | null },
  tty: boolean,
  linkEnv: readonly string[] = [],
): string[] {
  const base = [DEFAULT_PATH_ENV, `HOSTNAME=${config.Hostname}`, ...(tty ? ['TERM=xterm'] : []), ...linkEnv];
  return replaceOrAppendEnv(base, config.Env ?? []);
}

/**
 * docker's ReplaceOrAppendEnvValues: each `K=V` of `overrides` replaces the default with key K or
 * is appended; a bare `K` removes the default K.
 */
export function replaceOrAppendEnv(defaults: readonly string[], overrides: readonly string[]): string[] {
  const out: (string | undefined)[] = [...defaults];
  const index = new Map(defaults.map((e, i) => [e.split('=', 1)[0]!, i]));
  for (const v of overrides) {
    const eq = v.indexOf('=');
    const i = index.get(eq < 0 ? v : v.slice(0, eq));
    if (eq < 0) {
      if (i !== undefined) out[i] = undefined;
    } else if (i !== undefined) out[i] = v;
    else out.push(v);
  }
  return out.filter((e): e is string => e !== undefined);
}
