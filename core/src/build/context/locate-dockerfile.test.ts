import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { InvalidParameterError } from '../../plugin-api/errors.js';
import { DockerfileNotFoundError, locateDockerfile } from './locate-dockerfile.js';
import { tempDir } from './test-fixtures.js';

test('finds Dockerfile, and dockerfile as the fallback of the default name only', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'dockerfile'), 'FROM lower\n');
  t.is((await locateDockerfile(dir, 'Dockerfile')).content, 'FROM lower\n');
  t.is((await locateDockerfile(dir, '')).content, 'FROM lower\n');
  await writeFile(join(dir, 'Dockerfile'), 'FROM upper\n');
  const found = await locateDockerfile(dir, 'Dockerfile');
  t.is(found.content, 'FROM upper\n');
  t.is(found.path, join(dir, 'Dockerfile'));
  await t.throwsAsync(locateDockerfile(dir, 'Containerfile'), {
    instanceOf: DockerfileNotFoundError,
    message: 'Cannot locate specified Dockerfile: Containerfile',
  });
});

test('a path relative to the context, never outside it', async (t) => {
  const base = await tempDir(t);
  const dir = join(base, 'ctx');
  await mkdir(join(dir, 'sub'), { recursive: true });
  await writeFile(join(base, 'Dockerfile'), 'FROM outside\n');
  await writeFile(join(dir, 'sub/Dockerfile.dev'), 'FROM dev\n');
  t.is((await locateDockerfile(dir, 'sub/Dockerfile.dev')).content, 'FROM dev\n');
  t.is((await locateDockerfile(dir, './sub/../sub/Dockerfile.dev')).content, 'FROM dev\n');
  t.is((await locateDockerfile(dir, '/sub/Dockerfile.dev')).content, 'FROM dev\n');
  await t.throwsAsync(locateDockerfile(dir, '../Dockerfile'), {
    instanceOf: InvalidParameterError,
    message: /forbidden path outside the build context/,
  });
  await symlink('../Dockerfile', join(dir, 'escape'));
  await symlink(join(base, 'Dockerfile'), join(dir, 'abs-escape'));
  await t.throwsAsync(locateDockerfile(dir, 'escape'), { message: 'Cannot locate specified Dockerfile: escape' });
  await t.throwsAsync(locateDockerfile(dir, 'abs-escape'), { message: /Cannot locate/ });
  await symlink('sub/Dockerfile.dev', join(dir, 'inside'));
  t.is((await locateDockerfile(dir, 'inside')).content, 'FROM dev\n');
});

test('empty Dockerfiles and directories are refused', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'Dockerfile'), '');
  await t.throwsAsync(locateDockerfile(dir, 'Dockerfile'), { message: 'the Dockerfile (Dockerfile) cannot be empty' });
  await mkdir(join(dir, 'd'));
  await t.throwsAsync(locateDockerfile(dir, 'd'), { instanceOf: InvalidParameterError, message: /is a directory/ });
});

test('removes the Dockerfile and .dockerignore when .dockerignore names them, as dockerd does', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'Dockerfile'), 'FROM x\n');
  await writeFile(join(dir, '.dockerignore'), 'Dockerfile\n.dockerignore\n');
  await writeFile(join(dir, 'app'), '');
  t.is((await locateDockerfile(dir, 'Dockerfile')).content, 'FROM x\n');
  t.deepEqual(await readdir(dir), ['app']);
  const dir2 = await tempDir(t);
  await writeFile(join(dir2, 'Dockerfile'), 'FROM x\n');
  await writeFile(join(dir2, '.dockerignore'), '*.log\n');
  await locateDockerfile(dir2, 'Dockerfile');
  t.deepEqual((await readdir(dir2)).sort(), ['.dockerignore', 'Dockerfile']);
});
