import type { ProgressMessage } from '../images/image-types.js';

/** Where the builder's messages go: the HTTP stream (see routes/build.ts) or a test's array. */
export type BuildSink = (m: ProgressMessage) => void;

/**
 * Docker's build output on top of a sink: `{"stream": …}` text, `{"aux": {"ID": …}}`, and the
 * in-band error. With `quiet` (`q=1`) text is held back and only sent if the build fails, as
 * dockerd's notVerboseBuffer.
 */
export class BuildStream {
  private held: ProgressMessage[] = [];
  constructor(
    private readonly sink: BuildSink,
    private readonly quiet = false,
  ) {}

  text(s: string): void {
    if (s === '') return;
    const m = { stream: s };
    if (this.quiet) this.held.push(m);
    else this.sink(m);
  }

  /** Progress of a pull made by FROM (shown as the pull shows it). */
  progress(m: ProgressMessage): void {
    if (this.quiet) this.held.push(m);
    else this.sink(m);
  }

  /** A quiet build holds text back: its failure is then reported in-band, after that text. */
  get holding(): boolean {
    return this.held.length > 0;
  }

  aux(id: string): void {
    this.sink({ aux: { ID: id } });
  }

  /** The final result of a quiet build: the image ID alone. */
  quietResult(id: string): void {
    if (this.quiet) this.sink({ stream: `${id}\n` });
  }

  error(message: string, code?: number): void {
    for (const m of this.held.splice(0)) this.sink(m);
    this.sink({ errorDetail: { ...(code !== undefined ? { code } : {}), message }, error: message });
  }
}

/** A step's failure that names its command and exit code (the CLI exits with that code). */
export class StepFailedError extends Error {
  constructor(
    readonly command: string,
    readonly exitCode: number,
  ) {
    super(`The command '${command}' returned a non-zero code: ${exitCode}`);
  }
}
