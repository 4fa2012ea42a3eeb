/**
 * Typed errors shared by the core and plugins. Each maps to the HTTP status
 * dockerd uses for the same situation, so the API layer never guesses.
 */
export class SkiffError extends Error {
  readonly status: number = 500;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** 400: the request itself is wrong (bad JSON, bad reference, bad parameter). */
export class InvalidParameterError extends SkiffError {
  override readonly status = 400;
}
/** 401: a registry refused the credentials (`docker login` with a wrong password). */
export class UnauthorizedError extends SkiffError {
  override readonly status = 401;
}
/** 403: the operation is not permitted (e.g. on predefined networks). */
export class ForbiddenError extends SkiffError {
  override readonly status = 403;
}
/** 404: the named object does not exist. */
export class NotFoundError extends SkiffError {
  override readonly status = 404;
}
/** 409: the object is in a state that forbids the operation, or a name is taken. */
export class ConflictError extends SkiffError {
  override readonly status = 409;
}
/** 304: nothing to do (start a running container, stop a stopped one). */
export class NotModifiedError extends SkiffError {
  override readonly status = 304;
}
/** 501: the operation is not supported by this driver or on this host. */
export class NotImplementedError extends SkiffError {
  override readonly status = 501;
}
/** 502/503-ish upstream failures: a registry that is down, lies or hangs. */
export class UpstreamError extends SkiffError {
  override readonly status = 500;
}
/** 500: an invariant of the host was broken (a runtime failed, a mount failed). */
export class SystemError extends SkiffError {
  override readonly status = 500;
}

/** Thrown by a plugin's register() through `registrar.skip()`: unsupported here, not failed. */
export class PluginSkipError extends SkiffError {}

export function statusOf(err: unknown): number {
  return err instanceof SkiffError ? err.status : 500;
}
