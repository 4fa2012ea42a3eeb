import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import { StatusError } from '../cli/errors.js';
import { CORE_RANGE, SCAFFOLD_KINDS, scaffoldPlugin } from './plugin-init.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');

/** node_modules of the generated package, linked to the workspace's copies (no network installs). */
async function linkDeps(dir: string): Promise<void> {
  const nm = join(dir, 'node_modules');
  await mkdir(join(nm, '@skiff'), { recursive: true });
  await mkdir(join(nm, '@types'), { recursive: true });
  await symlink(join(repo, 'core'), join(nm, '@skiff', 'core'));
  await symlink(join(repo, 'node_modules', 'ava'), join(nm, 'ava'));
  await symlink(join(repo, 'node_modules', '@types', 'node'), join(nm, '@types', 'node'));
}

for (const kind of SCAFFOLD_KINDS) {
  test(`plugin init ${kind}: the generated package type-checks against @skiff/core and wires the testkit`, async (t) => {
    const base = await mkdtemp(join(tmpdir(), 'skiff-init-'));
    t.teardown(() => rm(base, { recursive: true, force: true }));
    const dir = join(base, 'pkg');
    const files = await scaffoldPlugin({ kind, name: `my-${kind}`, dir });
    t.true(files.includes('src/conformance.test.ts'));
    const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));
    t.deepEqual(pkg.skiff, { apiVersion: 1, kind, name: `my-${kind}`, entry: './dist/plugin.js' });
    t.true(pkg.keywords.includes('skiff-plugin'));
    t.is(pkg.peerDependencies['@skiff/core'], CORE_RANGE);
    t.regex(pkg.scripts.test, /ava/);
    const conformance = await readFile(join(dir, 'src', 'conformance.test.ts'), 'utf8');
    t.regex(conformance, /from '@skiff\/core\/testkit'/);
    t.regex(await readFile(join(dir, 'README.md'), 'utf8'), /npm test/);
    await linkDeps(dir);
    const r = await promisify(execFile)(process.execPath, [tsc, '-p', dir, '--noEmit'], { cwd: dir }).catch(
      (err: { stdout?: string; stderr?: string }) => err,
    );
    t.is(r.stdout ?? '', '', 'tsc reports no errors');
    t.falsy((r as { code?: number }).code);
  });
}

test('plugin init refuses an unknown kind, a bad name and a non-empty directory', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'skiff-init-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  await t.throwsAsync(scaffoldPlugin({ kind: 'teleport', name: 'x', dir: join(base, 'a') }), {
    instanceOf: StatusError,
    message: /unknown plugin kind "teleport" \(one of: storage, network, ipam, volume, runtime\)/,
  });
  await t.throwsAsync(scaffoldPlugin({ kind: 'volume', name: 'Bad Name', dir: join(base, 'b') }), {
    message: /invalid driver name/,
  });
  await mkdir(join(base, 'c'));
  await writeFile(join(base, 'c', 'keep'), 'x');
  await t.throwsAsync(scaffoldPlugin({ kind: 'volume', name: 'ok', dir: join(base, 'c') }), {
    message: /exists and is not empty/,
  });
});
