import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * runc for everything but `subcommand`, which it refuses with an error in runc's JSON log format:
 * whatever works through it did not need that subcommand. The runtime's state root is named after
 * the binary (`roots/runc-no<subcommand>`).
 */
export async function runcRefusing(
  t: { teardown(fn: () => Promise<void>): void },
  subcommand: string,
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `skiff-no${subcommand}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, `runc-no${subcommand}`);
  await writeFile(
    path,
    `#!/bin/sh\nfor a; do [ "$a" = ${subcommand} ] && { echo '{"level":"error","msg":"${subcommand} refused by the test"}' >&2; exit 1; }; done\nexec runc "$@"\n`,
  );
  await chmod(path, 0o755);
  return path;
}
