import type { Logger } from '../plugin-api/logger.js';

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type Level = keyof typeof LEVELS;

/** Plain one-line logs on stderr: `time level [scope] message key=value…`. */
export class ConsoleLogger implements Logger {
  constructor(
    private readonly level: Level = 'info',
    private readonly scope = '',
    private readonly write: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
  ) {}

  private log(level: Level, msg: string, fields?: Record<string, unknown>): void {
    if (LEVELS[level] < LEVELS[this.level]) return;
    const extra = fields
      ? Object.entries(fields)
          .map(
            ([k, v]) =>
              ` ${k}=${typeof v === 'string' ? JSON.stringify(v) : v instanceof Error ? JSON.stringify(v.message) : JSON.stringify(v)}`,
          )
          .join('')
      : '';
    this.write(`${new Date().toISOString()} ${level}${this.scope ? ` [${this.scope}]` : ''} ${msg}${extra}`);
  }
  debug(m: string, f?: Record<string, unknown>) {
    this.log('debug', m, f);
  }
  info(m: string, f?: Record<string, unknown>) {
    this.log('info', m, f);
  }
  warn(m: string, f?: Record<string, unknown>) {
    this.log('warn', m, f);
  }
  error(m: string, f?: Record<string, unknown>) {
    this.log('error', m, f);
  }
  child(scope: string): Logger {
    return new ConsoleLogger(this.level, this.scope ? `${this.scope}/${scope}` : scope, this.write);
  }
}
