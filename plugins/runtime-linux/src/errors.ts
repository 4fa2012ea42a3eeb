import { SystemError } from '@skiff/core/plugin-api';

/**
 * The exit code the shell and the docker CLI report for a process that could not be started:
 * 126 when it exists but cannot be executed (or its working directory is unusable, as dockerd
 * reports for `docker exec -w /missing`), 127 when the executable (or a path to it) does not exist,
 * undefined for anything else.
 */
export function exitCodeHintOf(runtimeMessage: string): 126 | 127 | undefined {
  if (/chdir to cwd/i.test(runtimeMessage)) return 126;
  if (/executable file not found|no such file or directory/i.test(runtimeMessage)) return 127;
  if (/permission denied|exec format error|is a directory/i.test(runtimeMessage)) return 126;
  return undefined;
}

/**
 * crun's words for a process it could not start, put as runc's: dockerd passes runc's on, and the
 * docker CLI reads them (exit 127 on "executable file not found" or "no such file or directory",
 * 126 on "permission denied", case-sensitive). `argv0` is the command crun's words leave out.
 */
export function asRuncWording(message: string, argv0?: string): string {
  const missing = /^executable file `(.*)` not found in \$PATH: No such file or directory$/.exec(message);
  if (missing) {
    const file = missing[1]!;
    return file.includes('/')
      ? `exec: "${file}": stat ${file}: no such file or directory`
      : `exec: "${file}": executable file not found in $PATH`;
  }
  if (/^open executable: (Permission denied|Operation not permitted)$/.test(message))
    return `exec: ${JSON.stringify(argv0 ?? '')}: permission denied`;
  return message;
}

/** The OCI runtime refused to start a process; `runtimeMessage` is the runtime's own words (runc's). */
export class OciRuntimeError extends SystemError {
  readonly runtimeMessage: string;
  readonly exitCodeHint: 126 | 127 | undefined;
  constructor(operation: 'create' | 'exec', message: string, options?: { cause?: unknown; argv0?: string }) {
    const runtimeMessage = asRuncWording(message, options?.argv0);
    super(`OCI runtime ${operation} failed: ${runtimeMessage}`, options);
    this.runtimeMessage = runtimeMessage;
    this.exitCodeHint = exitCodeHintOf(runtimeMessage);
  }
}

/**
 * `runc create` refused the container (e.g. `runc create failed: unable to start container
 * process: exec: "nope": executable file not found in $PATH`); the message reads like dockerd's
 * `OCI runtime create failed: …`.
 */
export class RuntimeCreateError extends OciRuntimeError {
  constructor(runtimeMessage: string, options?: { cause?: unknown; argv0?: string }) {
    super('create', runtimeMessage, options);
  }
}

/** `runc exec` could not start the process; the message reads like dockerd's `OCI runtime exec failed: …`. */
export class RuntimeExecError extends OciRuntimeError {
  constructor(runtimeMessage: string, options?: { cause?: unknown; argv0?: string }) {
    super('exec', runtimeMessage, options);
  }
}
