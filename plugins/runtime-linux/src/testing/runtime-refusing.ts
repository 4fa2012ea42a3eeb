import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The OCI runtime (runc, crun) for everything but `subcommand`, which it refuses with an error in
 * the runtimes' JSON log format: whatever works through it did not need that subcommand. The
 * runtime's state root is named after the binary (`roots/<runtime>-no<subcommand>`).
 */
export async function runtimeRefusing(
  t: { teardown(fn: () => Promise<void>): void },
  subcommand: string,
  runtime = 'runc',
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `skiff-no${subcommand}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, `${runtime}-no${subcommand}`);
  await writeFile(
    path,
    `#!/bin/sh\nfor a; do [ "$a" = ${subcommand} ] && { echo '{"level":"error","msg":"${subcommand} refused by the test"}' >&2; exit 1; }; done\nexec ${runtime} "$@"\n`,
  );
  await chmod(path, 0o755);
  return path;
}
