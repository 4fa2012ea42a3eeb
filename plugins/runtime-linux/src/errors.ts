import { SystemError } from '@skiff/core/plugin-api';

/**
 * `runc create` refused the container. `runtimeMessage` is the runtime's own words
 * (e.g. `runc create failed: unable to start container process: exec: "nope": executable file
 * not found in $PATH`); the message reads like dockerd's `OCI runtime create failed: …`.
 *
 * `exitCodeHint` follows the shell and the docker CLI: 127 when the executable (or a path to it)
 * does not exist, 126 when it exists but cannot be executed, undefined for anything else.
 */
export class RuntimeCreateError extends SystemError {
  readonly runtimeMessage: string;
  readonly exitCodeHint: 126 | 127 | undefined;
  constructor(runtimeMessage: string, options?: { cause?: unknown }) {
    super(`OCI runtime create failed: ${runtimeMessage}`, options);
    this.runtimeMessage = runtimeMessage;
    this.exitCodeHint = /executable file not found|no such file or directory/i.test(runtimeMessage)
      ? 127
      : /permission denied|exec format error|is a directory/i.test(runtimeMessage)
        ? 126
        : undefined;
  }
}
