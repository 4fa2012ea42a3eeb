import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { LayerEntry } from '@skiff/core/testkit';
import test from 'ava';
import {
  api,
  docker,
  driverDaemons,
  layerBytes,
  layeredImage,
  pushImage,
  type StorageDriverName,
} from '../harness/index.js';

// Multi-layer images with whiteouts, and hostile layers, pulled and run by the real docker CLI.

const drivers: StorageDriverName[] = ['vfs', 'overlay'];
const uid = () => randomBytes(4).toString('hex');

const { registry, daemonFor, stopAll } = driverDaemons();
test.after.always(stopAll);

/** busybox (layer 1) + layer 2 adding files + layer 3 deleting files and directories of layers 1 and 2. */
async function pushWhiteoutImage(ref: string): Promise<void> {
  const second = await layerBytes([
    { name: 'opt/', type: 'directory' },
    { name: 'opt/a', content: 'a' },
    { name: 'opt/keep', content: 'keep\n' },
    { name: 'srv/', type: 'directory' },
    { name: 'srv/old', content: 'old' },
  ]);
  const third = await layerBytes([
    { name: '.wh.home', content: '' }, // a directory of the first layer
    { name: 'etc/.wh.group', content: '' }, // a file of the first layer
    { name: 'opt/.wh.a', content: '' },
    { name: 'srv/', type: 'directory' },
    { name: 'srv/.wh..wh..opq', content: '' },
    { name: 'srv/new', content: 'new\n' },
  ]);
  const img = await layeredImage([second, third]);
  try {
    await pushImage(img.layout, ref);
  } finally {
    await img.remove();
  }
}

for (const driver of drivers) {
  test(`${driver}: a container sees the deletions a later layer makes`, async (t) => {
    const d = await daemonFor(driver);
    const reg = await registry();
    const ref = `${reg.host}/whiteouts-${driver}:${uid()}`;
    await pushWhiteoutImage(ref);
    const script = [
      'for p in /home /etc/group /opt/a /srv/old; do [ -e $p ] && echo "present $p"; done',
      'cat /opt/keep /srv/new',
      'ls /srv',
      'ls /etc/passwd',
    ].join('; ');
    const r = await docker(['run', '--rm', ref, 'sh', '-c', script], { host: d.dockerHost });
    t.is(r.code, 0, `${r.stderr}\n--- skiffd:\n${d.output()}`);
    t.is(r.stdout, 'keep\nnew\nnew\n/etc/passwd\n');
  });
}

test('overlay: a --rm container writes to a volatile upper (no syncfs when it goes), a kept one does not', async (t) => {
  const d = await daemonFor('overlay');
  const reg = await registry();
  const rootOptions = async (...flags: string[]) => {
    const r = await docker(['run', ...flags, reg.image, 'sh', '-c', "grep '^overlay / ' /proc/mounts"], {
      host: d.dockerHost,
    });
    t.is(r.code, 0, r.stderr);
    return r.stdout;
  };
  const [major = 0, minor = 0] = os.release().split('.').map(Number);
  if (major > 5 || (major === 5 && minor >= 10)) t.regex(await rootOptions('--rm'), /[,=]volatile[,\s]/);
  const name = `kept-${uid()}`;
  t.notRegex(await rootOptions('--name', name), /volatile/);
  await docker(['rm', name], { host: d.dockerHost });
});

interface Hostile {
  title: string;
  entries: (outside: string) => LayerEntry[];
}

const hostile: Hostile[] = [
  { title: 'a ../ path', entries: (o) => [{ name: `../../../../../../../..${o}/pwned`, content: 'x' }] },
  { title: 'an absolute path', entries: (o) => [{ name: `${o}/pwned`, content: 'x' }] },
  {
    title: 'a symlink climbing out, then a file through it',
    entries: () => [
      { name: 'evil', type: 'symlink', linkname: '../../../../../../../../../../../..' },
      { name: 'evil/pwned', content: 'x' },
    ],
  },
  { title: 'a hardlink to a host file', entries: (o) => [{ name: 'h', type: 'link', linkname: `${o}/victim` }] },
  {
    title: 'a whiteout under a symlink climbing out',
    entries: () => [
      { name: 'evil', type: 'symlink', linkname: '../../../../../../../../../..' },
      { name: 'evil/.wh.victim', content: '' },
    ],
  },
];

for (const driver of drivers) {
  test(`${driver}: hostile layers fail the pull clearly and change nothing outside`, async (t) => {
    const d = await daemonFor(driver);
    const reg = await registry();
    const outside = path.join(os.tmpdir(), `skiff-e2e-outside-${uid()}`);
    await mkdir(outside);
    t.teardown(() => rm(outside, { recursive: true, force: true }));
    await writeFile(path.join(outside, 'victim'), 'untouched');

    for (const h of hostile) {
      const repo = `${reg.host}/hostile-${driver}-${uid()}`;
      // A harmless layer first, so a failure must not leave a half-pulled image behind.
      const img = await layeredImage([
        await layerBytes([{ name: 'ok', content: 'fine' }]),
        await layerBytes(h.entries(outside)),
      ]);
      try {
        await pushImage(img.layout, `${repo}:v1`);
      } finally {
        await img.remove();
      }
      const pull = await docker(['pull', `${repo}:v1`], { host: d.dockerHost });
      t.not(pull.code, 0, `${h.title}: the pull succeeded`);
      t.regex(pull.stderr, /escapes|absolute path|not allowed|symlink|outside|hardlink/i, `${h.title}: ${pull.stderr}`);
      t.deepEqual(await readdir(outside), ['victim'], h.title);
      const images = await docker(['images', '--format', '{{.Repository}}'], { host: d.dockerHost });
      t.is(images.code, 0, images.stderr);
      t.false(images.stdout.includes(repo.split('/')[1] as string), `${h.title}: the image is listed`);
      const ping = await api(d.dockerHost, 'GET', '/_ping');
      t.is(ping.status, 200);
    }
    // The daemon still pulls and runs good images afterwards.
    const r = await docker(['run', '--rm', reg.image, 'true'], { host: d.dockerHost });
    t.is(r.code, 0, r.stderr);
  });
}
