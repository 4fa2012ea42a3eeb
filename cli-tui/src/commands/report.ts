// How errors read on the terminal, in the docker CLI's words.

import { ApiError } from '../api/errors.js';

export function describeError(err: unknown): string {
  if (err instanceof ApiError) return `Error response from daemon: ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}
