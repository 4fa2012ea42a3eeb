// skiff ui: the interactive dashboard (cli-tui/src/ui), loaded only when asked for so the other
// commands do not pay for Ink and React at start-up.

import { StatusError } from '../cli/errors.js';
import type { Command } from './types.js';

/**
 * The colour level Ink's chalk should use. supports-color turns colours off whenever `CI` is
 * set at all (even CI=false), which would hide the selection; we only run on a TTY, so decide
 * from TERM, and NO_COLOR turns colours off.
 */
export function colorLevel(env: NodeJS.ProcessEnv): string | undefined {
  if (env.FORCE_COLOR !== undefined) return undefined;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return '0';
  if (env.COLORTERM === 'truecolor' || env.COLORTERM === '24bit') return '3';
  if ((env.TERM ?? '').includes('256color')) return '2';
  return env.TERM === 'dumb' ? '0' : '1';
}

export const uiCommand: Command = {
  name: 'ui',
  usage: 'ui',
  summary: 'Open the interactive dashboard',
  interspersed: true,
  args: { max: 0 },
  flags: [],
  async run(ctx) {
    const level = colorLevel(ctx.env);
    if (ctx.env === process.env) {
      if (level !== undefined) process.env.FORCE_COLOR = level;
      // React's development build costs several times more per frame; it is chosen at load time.
      process.env.NODE_ENV ??= 'production';
    }
    const { runDashboard, TerminalRequiredError } = await import('../ui/run.js');
    const { ConfigError } = await import('../ui/config.js');
    try {
      return await runDashboard(ctx);
    } catch (err) {
      if (err instanceof TerminalRequiredError || err instanceof ConfigError) throw new StatusError(1, err.message);
      throw err;
    }
  },
};
