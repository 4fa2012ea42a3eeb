// Typed errors of the API client.

/** The daemon answered with an error status; `message` is the body's `message` field. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  get isNotFound(): boolean {
    return this.status === 404;
  }
}

/** The daemon could not be reached at all (socket missing, connection refused, ...). */
export class ConnectionError extends Error {
  constructor(
    readonly endpointUrl: string,
    readonly code: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(
      code === 'EACCES'
        ? `permission denied while trying to connect to the skiff daemon socket at ${endpointUrl}`
        : `Cannot connect to the skiff daemon at ${endpointUrl}. Is the skiff daemon running?`,
      options,
    );
    this.name = 'ConnectionError';
  }
}

/** The daemon broke the protocol (bad upgrade answer, malformed frame, bad JSON, ...). */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/** The daemon reported an error inside a multiplexed stream (stdcopy stream id 3). */
export class StreamSystemError extends Error {
  constructor(message: string) {
    super(`error from daemon in stream: ${message}`);
    this.name = 'StreamSystemError';
  }
}
