// Errors that decide how the CLI reports a failure and which exit code it uses.

/** A bad flag (exit 125) or a wrong number of arguments (exit 1), reported with usage. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly kind: 'flag' | 'args',
    /** docker says "Run '… --help'" for flag/NoArgs errors and "See '… --help'" for min-args errors. */
    readonly hintVerb: 'Run' | 'See' = kind === 'flag' ? 'Run' : 'See',
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Ends the command with `code`; `message` (if any) goes to stderr. */
export class StatusError extends Error {
  constructor(
    readonly code: number,
    message = '',
  ) {
    super(message);
    this.name = 'StatusError';
  }
}
