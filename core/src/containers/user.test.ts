import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { InvalidParameterError } from '../plugin-api/errors.js';
import { resolveUser } from './user.js';

const PASSWD = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
# a comment
www-data:x:33:33:www-data:/var/www:/bin/false
app:x:1000:1001::/home/app:/bin/sh
broken line
nobody:x:65534:65534:nobody:/home:/bin/false
`;

const GROUP = `root:x:0:
daemon:x:1:
wheel:x:10:root
audio:x:29:app,root
www-data:x:33:
staff:x:50:app
appgrp:x:1001:
nogroup:x:65534:
`;

async function rootfs(
  t: { teardown(fn: () => Promise<void>): void },
  files: { passwd?: string; group?: string } = {},
): Promise<string> {
  const base = await mkdtemp(join(tmpdir(), 'skiff-user-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  const root = join(base, 'rootfs');
  await mkdir(join(root, 'etc'), { recursive: true });
  if (files.passwd !== undefined) await writeFile(join(root, 'etc/passwd'), files.passwd);
  if (files.group !== undefined) await writeFile(join(root, 'etc/group'), files.group);
  return root;
}

test('empty user is root with its supplementary groups', async (t) => {
  const root = await rootfs(t, { passwd: PASSWD, group: GROUP });
  t.deepEqual(await resolveUser(root, ''), { uid: 0, gid: 0, additionalGids: [10, 29] });
  t.deepEqual(await resolveUser(root, undefined), { uid: 0, gid: 0, additionalGids: [10, 29] });
  t.deepEqual(await resolveUser(root, 'root'), { uid: 0, gid: 0, additionalGids: [10, 29] });
});

test('names and numbers resolve like runc GetExecUser', async (t) => {
  const root = await rootfs(t, { passwd: PASSWD, group: GROUP });
  t.deepEqual(await resolveUser(root, 'app'), { uid: 1000, gid: 1001, additionalGids: [29, 50] });
  t.deepEqual(await resolveUser(root, '1000'), { uid: 1000, gid: 1001, additionalGids: [29, 50] });
  t.deepEqual(await resolveUser(root, '4242'), { uid: 4242, gid: 0, additionalGids: [] });
  t.deepEqual(await resolveUser(root, 'app:staff'), { uid: 1000, gid: 50, additionalGids: [] });
  t.deepEqual(await resolveUser(root, 'www-data:0'), { uid: 33, gid: 0, additionalGids: [] });
  t.deepEqual(await resolveUser(root, '4242:4343'), { uid: 4242, gid: 4343, additionalGids: [] });
  t.deepEqual(await resolveUser(root, 'nobody'), { uid: 65534, gid: 65534, additionalGids: [] });
});

test("unknown names are InvalidParameterError with docker's message", async (t) => {
  const root = await rootfs(t, { passwd: PASSWD, group: GROUP });
  await t.throwsAsync(resolveUser(root, 'ghost'), {
    instanceOf: InvalidParameterError,
    message: 'unable to find user ghost: no matching entries in passwd file',
  });
  await t.throwsAsync(resolveUser(root, 'app:ghosts'), {
    instanceOf: InvalidParameterError,
    message: 'unable to find group ghosts: no matching entries in group file',
  });
  await t.throwsAsync(resolveUser(root, '99999999999'), {
    instanceOf: InvalidParameterError,
    message: /range 0-2147483647/,
  });
});

test('missing /etc/passwd and /etc/group: numeric only', async (t) => {
  const root = await rootfs(t);
  t.deepEqual(await resolveUser(root, ''), { uid: 0, gid: 0, additionalGids: [] });
  t.deepEqual(await resolveUser(root, '1000:1000'), { uid: 1000, gid: 1000, additionalGids: [] });
  await t.throwsAsync(resolveUser(root, 'nobody'), {
    instanceOf: InvalidParameterError,
    message: 'unable to find user nobody: no matching entries in passwd file',
  });
  await t.throwsAsync(resolveUser(await rootfs(t), 'x:staff'), { instanceOf: InvalidParameterError });
});

test('symlinks are resolved inside the rootfs, never to the host', async (t) => {
  const root = await rootfs(t);
  const outside = join(root, '..', 'host-passwd');
  await writeFile(outside, 'evil:x:0:0::/:/bin/sh\n');
  // Absolute target: inside the container this is <rootfs>/real/passwd.
  await mkdir(join(root, 'real'));
  await writeFile(join(root, 'real/passwd'), 'svc:x:500:500::/:/bin/sh\n');
  await symlink('/real/passwd', join(root, 'etc/passwd'));
  t.deepEqual(await resolveUser(root, 'svc'), { uid: 500, gid: 500, additionalGids: [] });

  // A relative escape clamps at the container's root: ../../host-passwd is /host-passwd there, which does not exist.
  const root2 = await rootfs(t);
  await writeFile(join(root2, '..', 'host-passwd'), 'evil:x:0:0::/:/bin/sh\n');
  await symlink('../../host-passwd', join(root2, 'etc/passwd'));
  await t.throwsAsync(resolveUser(root2, 'evil'), { message: /unable to find user evil/ });

  // A symlinked /etc directory pointing out of the root is not followed out either.
  const root3 = await rootfs(t);
  await rm(join(root3, 'etc'), { recursive: true });
  await symlink('../', join(root3, 'etc'));
  await t.throwsAsync(resolveUser(root3, 'evil'), { message: /unable to find user evil/ });

  const root4 = await rootfs(t);
  await symlink('passwd', join(root4, 'etc/passwd'));
  await t.throwsAsync(resolveUser(root4, 'x'), {
    instanceOf: InvalidParameterError,
    message: /too many levels of symlinks/,
  });
});
