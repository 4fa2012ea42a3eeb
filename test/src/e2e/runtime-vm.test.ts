import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildAssets } from '@skiff/runtime-vm';
import test from 'ava';
import { docker, registryWithBusybox, startRestartableDaemon } from '../harness/index.js';
import { dockerCli } from '../harness/paths.js';
import { spawnPty } from '../harness/pty-screen.js';

// Containers of `--runtime vm` run in their own qemu VM (Debian's cloud kernel, an agent as init),
// supervised by conmon like runc containers: they outlive skiffd, and their output and exit
// status reach `docker logs` and `docker wait` as with runtime-linux.

function assetsRelease(): string | undefined {
  try {
    return (
      JSON.parse(execFileSync('cat', ['/var/cache/skiff/vm/manifest.json'], { encoding: 'utf8' })) as {
        release: string;
      }
    ).release;
  } catch {
    return undefined;
  }
}

/** qemu processes running in a directory whose path mentions `needle` (a VM's state dir holds its id). */
async function qemuFor(needle: string): Promise<number[]> {
  const out = execFileSync('ps', ['-eo', 'pid=,comm='], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((l) => /\sqemu-system/.test(l))
    .map((l) => Number.parseInt(l.trim(), 10))
    .filter((pid) => {
      try {
        return execFileSync('readlink', [`/proc/${pid}/cwd`], { encoding: 'utf8' }).includes(needle);
      } catch {
        return false;
      }
    });
}

async function vmDaemon(t: import('ava').ExecutionContext) {
  const reg = await registryWithBusybox();
  t.teardown(() => reg.stop());
  const d = await startRestartableDaemon({
    storageDriver: 'overlay',
    insecureRegistries: [reg.host],
    // No runtimes entry: skiffd's default config has `vm` whenever the plugin loads.
  });
  t.teardown(() => d.stop());
  return { reg, d };
}

/** A VM daemon and a container name for the test; the container goes at the test's end. */
async function vmNamed(t: import('ava').ExecutionContext, prefix: string) {
  const { reg, d } = await vmDaemon(t);
  const host = d.current.dockerHost;
  const name = `${prefix}-${process.pid}`;
  t.teardown(async () => void (await docker(['rm', '-f', name], { host })));
  return { reg, d, host, name };
}

test.serial(
  'a vm container runs the guest kernel, propagates its exit code, logs its output, reads stdin',
  async (t) => {
    const release = assetsRelease();
    if (!release) return t.fail('no VM assets in /var/cache/skiff/vm: run skiff-vm-assets (scripts/setup.sh does)');
    const { reg, d } = await vmDaemon(t);
    const host = d.current.dockerHost;

    const uname = await docker(['run', '--rm', '--runtime', 'vm', reg.image, 'uname', '-r'], { host });
    t.is(uname.code, 0, `${uname.stderr}\n--- skiffd:\n${d.current.output()}`);
    t.is(uname.stdout.trim(), release);
    t.not(uname.stdout.trim(), execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim());

    const exit3 = await docker(
      ['run', '--runtime', 'vm', '--name', 'vm-exit3', reg.image, 'sh', '-c', 'echo out; echo err >&2; exit 3'],
      { host },
    );
    t.is(exit3.code, 3, exit3.stderr);
    const logs = await docker(['logs', 'vm-exit3'], { host });
    t.is(logs.stdout, 'out\n');
    t.is(logs.stderr, 'err\n');
    const inspect = await docker(['inspect', '-f', '{{.State.ExitCode}} {{.HostConfig.Runtime}}', 'vm-exit3'], {
      host,
    });
    t.is(inspect.stdout.trim(), '3 vm');

    // docker run -i: stdin reaches the process in the VM, and its end is EOF there.
    const piped = await docker(['run', '-i', '--rm', '--runtime', 'vm', reg.image, 'sh', '-c', 'wc -l; echo done'], {
      host,
      stdin: 'one\ntwo\nthree\n',
    });
    t.is(piped.code, 0, piped.stderr);
    t.is(piped.stdout.replace(/ +/g, ''), '3\ndone\n');
  },
);

test.serial("Docker's capability sets and no-new-privileges apply to processes in the VM", async (t) => {
  if (!assetsRelease()) return t.fail('no VM assets');
  const { reg, d } = await vmDaemon(t);
  const host = d.current.dockerHost;
  const status = async (
    args: string[],
    cmd = ['grep', '-E', '^(CapBnd|CapEff|CapInh|NoNewPrivs)', '/proc/self/status'],
  ) => {
    const r = await docker(['run', '--rm', '--runtime', 'vm', ...args, reg.image, ...cmd], { host });
    t.is(r.code, 0, r.stderr);
    return Object.fromEntries(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(/:\s+/) as [string, string]),
    );
  };
  // Docker's 14 default capabilities (what runc gives a container by default).
  t.like(await status([]), {
    CapBnd: '00000000a80425fb',
    CapEff: '00000000a80425fb',
    CapInh: '0000000000000000',
    NoNewPrivs: '0',
  });
  t.like(await status(['--cap-drop', 'ALL', '--cap-add', 'NET_ADMIN', '--security-opt', 'no-new-privileges']), {
    CapBnd: '0000000000001000',
    CapEff: '0000000000001000',
    NoNewPrivs: '1',
  });
  // A user other than root keeps the bounding set, not the effective one.
  t.like(await status(['--user', '1000']), { CapBnd: '00000000a80425fb', CapEff: '0000000000000000' });
  const denied = await docker(['run', '--rm', '--runtime', 'vm', reg.image, 'mount', '-t', 'tmpfs', 'x', '/mnt'], {
    host,
  });
  t.not(denied.code, 0, 'mount needs CAP_SYS_ADMIN, which Docker does not give');
});

test.serial(
  "a TCG guest's clock keeps the host's time while the host is busy (the guest is told the TSC rate)",
  async (t) => {
    if (!assetsRelease()) return t.fail('no VM assets');
    const { reg, d } = await vmDaemon(t);
    const host = d.current.dockerHost;
    const cmdline = await docker(['run', '--rm', '--runtime', 'vm', reg.image, 'cat', '/proc/cmdline'], { host });
    t.is(cmdline.code, 0, cmdline.stderr);
    const ready = /vm runtime ready accel="(\w+)"[^\n]*/.exec(d.current.output());
    t.truthy(ready, d.current.output());
    if (ready?.[1] === 'tcg') {
      // The rate the guest is given is the host's (a TCG guest's TSC is the host's counter).
      const given = Number(/tsc_early_khz=(\d+)/.exec(cmdline.stdout)?.[1]);
      const measured = Number(execFileSync('/var/cache/skiff/vm/skiff-vm-tsc', { encoding: 'utf8' }));
      t.true(Math.abs(given - measured) < measured / 1000, `${cmdline.stdout} vs ${measured}`);
      t.regex(ready[0], new RegExp(`tscKHz=${given}`));
    }
    // Both cores busy and VMs booting side by side: the guests' early calibration against the
    // emulated PIT went wrong in about one boot of six here, and that guest's clock ran 5-40 times
    // too fast (uptime 60-800 s within 20 s). A guest cannot have been up longer than its container ran.
    const burners = [0, 1].map(() => spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' }));
    t.teardown(() => burners.forEach((b) => b.kill('SIGKILL')));
    const runs = await Promise.all(
      [0, 1, 2, 3].map(async () => {
        const started = performance.now();
        const r = await docker(['run', '--rm', '--runtime', 'vm', reg.image, 'sh', '-c', 'sleep 2; cat /proc/uptime'], {
          host,
        });
        return { r, wall: (performance.now() - started) / 1000 };
      }),
    );
    for (const { r, wall } of runs) {
      t.is(r.code, 0, r.stderr);
      const uptime = Number.parseFloat(r.stdout);
      t.true(uptime >= 2 && uptime < wall + 0.5, `guest uptime ${uptime} s, container ran ${wall.toFixed(2)} s`);
    }
  },
);

test.serial('docker rm -f ends the VM', async (t) => {
  if (!assetsRelease()) return t.fail('no VM assets');
  const { reg, d } = await vmDaemon(t);
  const host = d.current.dockerHost;
  const run = await docker(['run', '-d', '--runtime', 'vm', reg.image, 'sleep', '600'], { host });
  t.is(run.code, 0, run.stderr);
  const id = run.stdout.trim();
  t.true((await qemuFor(id)).length === 1, 'one qemu for the container');
  const rm = await docker(['rm', '-f', id], { host });
  t.is(rm.code, 0, rm.stderr);
  t.deepEqual(await qemuFor(id), []);
});

test.serial('a VM outlives a kill -9 of skiffd: exec and attach after the restart, its exit is recorded', async (t) => {
  if (!assetsRelease()) return t.fail('no VM assets');
  const { reg, d } = await vmDaemon(t);
  const host = d.current.dockerHost;
  const run = await docker(
    [
      'run',
      '-d',
      '--runtime',
      'vm',
      '--name',
      'vm-live',
      reg.image,
      'sh',
      '-c',
      'i=0; while [ ! -e /go ]; do echo tick$i; i=$((i+1)); sleep 0.2; done; echo bye; exit 5',
    ],
    { host },
  );
  t.is(run.code, 0, run.stderr);
  const id = run.stdout.trim();
  const [qemu] = await qemuFor(id);
  t.truthy(qemu, 'the VM runs');
  const second = await d.restart('sigkill');
  t.deepEqual(await qemuFor(id), [qemu!], 'the same VM still runs after the restart');
  const ps = await docker(['ps', '--no-trunc', '--format', '{{.ID}} {{.Status}}'], { host: second.dockerHost });
  t.regex(ps.stdout, new RegExp(`^${id} Up `, 'm'), ps.stderr);
  const exec = await docker(['exec', id, 'echo', 'exec-after-crash'], { host: second.dockerHost });
  t.is(exec.stdout, 'exec-after-crash\n', exec.stderr);
  const attach = docker(['attach', '--no-stdin', id], { host: second.dockerHost, timeoutMs: 60_000 });
  await new Promise((r) => setTimeout(r, 1500));
  // Let the process end: the rootfs is shared with the guest (virtio-fs), so a file made here is seen there.
  const vm = JSON.parse(await readFile(`/proc/${qemu}/cwd/state.json`, 'utf8')) as { bundle: string };
  const oci = JSON.parse(await readFile(`${vm.bundle}/config.json`, 'utf8')) as { root: { path: string } };
  await writeFile(`${resolve(vm.bundle, oci.root.path)}/go`, '');
  const wait = await docker(['wait', id], { host: second.dockerHost });
  t.is(wait.stdout.trim(), '5', `${wait.stderr}\n--- skiffd:\n${second.output()}`);
  const attached = await attach;
  t.is(attached.code, 5, attached.stderr);
  t.regex(attached.stdout, /tick\d+\nbye\n$/);
  const logs = (await docker(['logs', id], { host: second.dockerHost })).stdout.split('\n').filter(Boolean);
  t.is(logs.at(-1), 'bye');
  t.deepEqual(
    logs.slice(0, -1),
    logs.slice(0, -1).map((_, k) => `tick${k}`),
    'no line lost or repeated across the crash',
  );
  t.deepEqual(await qemuFor(id), []);
});

test.serial('--memory and --cpus size the VM; docker kill forwards the signal to the process', async (t) => {
  if (!assetsRelease()) return t.fail('no VM assets');
  const { reg, d } = await vmDaemon(t);
  const host = d.current.dockerHost;
  const sized = await docker(
    [
      'run',
      '--rm',
      '--runtime',
      'vm',
      '--memory',
      '300m',
      '--cpus',
      '2',
      reg.image,
      'sh',
      '-c',
      'nproc; grep MemTotal /proc/meminfo',
    ],
    { host },
  );
  t.is(sized.code, 0, sized.stderr);
  const [nproc, mem] = sized.stdout.trim().split('\n');
  t.is(nproc, '2');
  const kib = Number(/(\d+) kB/.exec(mem ?? '')?.[1]);
  // The VM gets the limit (enforced on the container's cgroup in the guest) plus 64 MiB for the
  // guest kernel and agent, less what the kernel reserves.
  t.true(kib > 300 * 1024 && kib <= 364 * 1024, mem);

  const run = await docker(
    [
      'run',
      '-d',
      '--runtime',
      'vm',
      reg.image,
      'sh',
      '-c',
      "trap 'echo got TERM; exit 42' TERM; echo ready; while :; do sleep 0.1; done",
    ],
    { host },
  );
  t.is(run.code, 0, run.stderr);
  const id = run.stdout.trim();
  for (let i = 0; i < 300 && !(await docker(['logs', id], { host })).stdout.includes('ready'); i++)
    await new Promise((r) => setTimeout(r, 100));
  const kill = await docker(['kill', '-s', 'TERM', id], { host });
  t.is(kill.code, 0, kill.stderr);
  t.is((await docker(['wait', id], { host })).stdout.trim(), '42');
  t.is((await docker(['logs', id], { host })).stdout, 'ready\ngot TERM\n');
  await docker(['rm', '-f', id], { host });
});

test.serial('docker exec runs a process in the VM', async (t) => {
  if (!assetsRelease()) return t.fail('no VM assets');
  const { reg, d } = await vmDaemon(t);
  const host = d.current.dockerHost;
  const run = await docker(['run', '-d', '--runtime', 'vm', '--name', 'vm-exec', reg.image, 'sleep', '600'], { host });
  t.is(run.code, 0, run.stderr);
  const ex = await docker(['exec', 'vm-exec', 'sh', '-c', 'uname -r; echo oops >&2; exit 4'], { host });
  t.is(ex.code, 4, ex.stderr);
  t.is(ex.stdout.trim(), assetsRelease()!);
  t.is(ex.stderr, 'oops\n');
  const missing = await docker(['exec', 'vm-exec', 'no-such-command'], { host });
  t.is(missing.code, 127, missing.stderr);
  const again = await docker(['exec', '-e', 'X=42', '-w', '/tmp', 'vm-exec', 'sh', '-c', 'echo $X $PWD'], { host });
  t.is(again.stdout, '42 /tmp\n', again.stderr);
  // exec -i: stdin reaches the process and ends in EOF; more than the pipes hold, echoed back, so
  // input and output must flow at once.
  const input = Array.from({ length: 30_000 }, (_, i) => `line ${i}`).join('\n') + '\n';
  const cat = await docker(['exec', '-i', 'vm-exec', 'cat'], { host, stdin: input });
  t.is(cat.code, 0, cat.stderr);
  t.true(cat.stdout === input, `cat echoed ${cat.stdout.length} of ${input.length} bytes`);
  const counted = await docker(['exec', '-i', 'vm-exec', 'sh', '-c', 'wc -l; exit 6'], { host, stdin: 'a\nb\n' });
  t.is(counted.code, 6, counted.stderr);
  t.is(counted.stdout.trim(), '2');
  // Side by side, as with runc: the first exec waits (30 s at most) for a file the last one makes.
  const held = docker(
    [
      'exec',
      'vm-exec',
      'sh',
      '-c',
      'touch /tmp/holding; i=0; until [ -e /tmp/go ]; do i=$((i+1)); [ $i -gt 300 ] && exit 9; sleep 0.1; done; echo held; exit 3',
    ],
    { host },
  );
  // Once it runs (queued behind it, this check would only come back after its 30 s).
  for (let i = 0; (await docker(['exec', 'vm-exec', 'test', '-e', '/tmp/holding'], { host })).code !== 0; i++) {
    if (i > 100) return t.fail('the first exec never ran');
    await sleep(100);
  }
  const side = await Promise.all(
    [1, 2, 3].map((n) => docker(['exec', 'vm-exec', 'sh', '-c', `echo side ${n}; exit ${n}`], { host })),
  );
  t.deepEqual(
    side.map((r) => [r.code, r.stdout]),
    [1, 2, 3].map((n) => [n, `side ${n}\n`]),
  );
  const releaser = await docker(['exec', 'vm-exec', 'touch', '/tmp/go'], { host });
  t.is(releaser.code, 0, releaser.stderr);
  const h = await held;
  t.is(h.code, 3, h.stderr);
  t.is(h.stdout, 'held\n');
  await docker(['rm', '-f', 'vm-exec'], { host });
});

test.serial('volumes, bind mounts (rw, ro, files), --tmpfs and --read-only reach the VM', async (t) => {
  if (!assetsRelease()) return t.fail('no VM assets');
  const { reg, d } = await vmDaemon(t);
  const host = d.current.dockerHost;
  const dir = await mkdtemp(join(tmpdir(), 'skiff-vm-mounts-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'rw'));
  await mkdir(join(dir, 'ro'));
  await writeFile(join(dir, 'ro', 'kept'), 'host data\n');
  await writeFile(join(dir, 'conf'), 'a=1\n');
  const volume = `vm-vol-${process.pid}`;
  t.teardown(async () => void (await docker(['volume', 'rm', '-f', volume], { host })));
  const script = [
    'echo from-vm > /vol/f',
    'echo written > /rw/new',
    'cat /ro/kept',
    'touch /ro/x 2>/dev/null && echo ro-WRITABLE',
    // Root in the guest can remount its side read-write; the host's side stays read-only.
    'mount -o remount,rw /ro && echo remounted',
    'touch /ro/y 2>/dev/null && echo host-ro-WRITABLE',
    'cat /etc/app.conf',
    'grep -q " /scratch tmpfs" /proc/mounts && echo tmpfs-ok',
    'touch /not-here 2>/dev/null && echo root-WRITABLE',
    'echo done',
  ].join('; ');
  const run = await docker(
    [
      // --privileged: root in the guest may remount /ro read-write, and the host's side must hold.
      ...['run', '--rm', '--runtime', 'vm', '--privileged', '--read-only', '-v', `${volume}:/vol`],
      ...['-v', `${dir}/rw:/rw`, '-v', `${dir}/ro:/ro:ro`, '-v', `${dir}/conf:/etc/app.conf:ro`],
      ...['--tmpfs', '/scratch', reg.image, 'sh', '-c', script],
    ],
    { host },
  );
  t.is(run.code, 0, `${run.stderr}\n--- skiffd:\n${d.current.output()}`);
  t.is(run.stdout, 'host data\nremounted\na=1\ntmpfs-ok\ndone\n');
  t.is(await readFile(join(dir, 'rw', 'new'), 'utf8'), 'written\n');
  t.deepEqual((await readdir(join(dir, 'ro'))).sort(), ['kept']);
  // The volume's content outlives the VM: a runc container reads it.
  const after = await docker(['run', '--rm', '-v', `${volume}:/vol`, reg.image, 'cat', '/vol/f'], { host });
  t.is(after.stdout, 'from-vm\n', after.stderr);
});

test.serial("a VM's writes land in the container's rw layer: diff, cp, export and commit see them", async (t) => {
  if (!assetsRelease()) return t.fail('no VM assets');
  const { reg, d } = await vmDaemon(t);
  const host = d.current.dockerHost;
  const name = `vm-rw-${process.pid}`;
  const run = await docker(
    ['run', '--runtime', 'vm', '--name', name, reg.image, 'sh', '-c', 'echo made-in-vm > /hello; rm /bin/true'],
    { host },
  );
  t.is(run.code, 0, run.stderr);
  t.teardown(async () => void (await docker(['rm', '-f', name], { host })));
  const diff = await docker(['diff', name], { host });
  t.regex(diff.stdout, /^A \/hello$/m, diff.stderr);
  t.regex(diff.stdout, /^D \/bin\/true$/m);
  const cp = await docker(['cp', `${name}:/hello`, '-'], { host });
  t.true(cp.stdout.includes('made-in-vm\n'), cp.stderr);
  const exported = await docker(['export', name], { host });
  t.true(exported.stdout.includes('made-in-vm'), 'the export holds the file');
  const image = `vm-rw-committed-${process.pid}`;
  t.is((await docker(['commit', name, image], { host })).code, 0);
  t.teardown(async () => void (await docker(['rmi', '-f', image], { host })));
  const again = await docker(['run', '--rm', image, 'cat', '/hello'], { host });
  t.is(again.stdout, 'made-in-vm\n', again.stderr);
});

test.serial('docker run -it and docker exec -it give processes in the VM a terminal', async (t) => {
  if (!assetsRelease()) return t.fail('no VM assets');
  const { reg, d } = await vmDaemon(t);
  const host = d.current.dockerHost;
  const env = { DOCKER_HOST: host, DOCKER_CLI_HINTS: 'false' };
  const run = spawnPty([dockerCli(), 'run', '-it', '--runtime', 'vm', '--name', 'vm-tty', reg.image, 'sh'], {
    cols: 100,
    rows: 30,
    env,
  });
  t.teardown(() => run.kill());
  await run.waitFor(/^\/ # ?$/m, 120_000);
  // The CLI's window size reaches the guest pty (CLI → conmon → host pty → relay → agent).
  run.write('tty; stty size; echo $((6*7))\r');
  await run.waitFor(/^42$/m);
  t.regex(run.text(), /^\/dev\/pts\/0$/m);
  t.regex(run.text(), /^30 100$/m);

  const ex = spawnPty([dockerCli(), 'exec', '-it', 'vm-tty', 'sh'], { cols: 70, rows: 20, env });
  t.teardown(() => ex.kill());
  await ex.waitFor(/^\/ # ?$/m, 60_000);
  ex.write('tty; stty size; echo $((7*8))\r');
  await ex.waitFor(/^56$/m);
  t.regex(ex.text(), /^\/dev\/pts\/1$/m);
  t.regex(ex.text(), /^20 70$/m);
  ex.write('exit 3\r');
  t.is(await ex.exited, 3, ex.raw());

  // Typed keys go through the guest's line discipline (echo, ^C to the foreground process).
  run.write('sleep 100\r');
  await new Promise((r) => setTimeout(r, 500));
  run.write('\x03');
  run.write('echo after-interrupt\r');
  await run.waitFor(/^after-interrupt$/m, 60_000);
  run.write('exit 7\r');
  t.is(await run.exited, 7, run.raw());
  const inspect = await docker(['inspect', '-f', '{{.State.ExitCode}} {{.Config.Tty}}', 'vm-tty'], { host });
  t.is(inspect.stdout.trim(), '7 true');
  await docker(['rm', '-f', 'vm-tty'], { host });
});

/** The generic kernel's assets (it has 9p, the cloud kernel has not), built on first use. */
const GENERIC_ASSETS = '/var/cache/skiff/vm-9p';

test.serial(
  "share 9p (macOS's file sharing, served by qemu itself): rootfs, volumes and ro binds; writes reach the rw layer",
  async (t) => {
    t.timeout(5 * 60_000);
    // `skiff-vm-assets --dir … --kernel-package linux-image-amd64`, as a user who wants 9p runs it.
    const assets = await buildAssets(GENERIC_ASSETS, { kernelPackage: 'linux-image-amd64', log: (m) => t.log(m) });
    t.true(assets.shares.includes('9p'));
    const reg = await registryWithBusybox();
    t.teardown(() => reg.stop());
    const d = await startRestartableDaemon({
      storageDriver: 'overlay',
      insecureRegistries: [reg.host],
      config: { 'plugin-config': { '@skiff/runtime-vm': { assets: GENERIC_ASSETS, share: '9p' } } },
    });
    t.teardown(() => d.stop());
    const host = d.current.dockerHost;
    const dir = await mkdtemp(join(tmpdir(), 'skiff-vm-9p-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    await mkdir(join(dir, 'ro'));
    await writeFile(join(dir, 'ro', 'kept'), 'host data\n');
    const volume = `vm-9p-${process.pid}`;
    t.teardown(async () => void (await docker(['volume', 'rm', '-f', volume], { host })));
    const name = `vm-9p-${process.pid}`;
    t.teardown(async () => void (await docker(['rm', '-f', name], { host })));
    const script = [
      'uname -r',
      'grep -c " 9p " /proc/mounts',
      'echo from-vm > /vol/f',
      'cat /ro/kept',
      'touch /ro/x 2>/dev/null && echo ro-WRITABLE',
      'echo made-in-vm > /hello',
      'rm /bin/true',
      'exit 4',
    ].join('; ');
    const run = await docker(
      [
        ...['run', '--runtime', 'vm', '--name', name, '-v', `${volume}:/vol`, '-v', `${dir}/ro:/ro:ro`],
        ...[reg.image, 'sh', '-c', script],
      ],
      { host },
    );
    t.is(run.code, 4, `${run.stderr}\n--- skiffd:\n${d.current.output()}`);
    // The rootfs and both mounts are 9p shares of the generic kernel.
    t.is(run.stdout, `${assets.release}\n3\nhost data\n`);
    const diff = await docker(['diff', name], { host });
    t.regex(diff.stdout, /^A \/hello$/m, diff.stderr);
    t.regex(diff.stdout, /^D \/bin\/true$/m);
    t.deepEqual(await readdir(join(dir, 'ro')), ['kept']);
    const after = await docker(['run', '--rm', '-v', `${volume}:/vol`, reg.image, 'cat', '/vol/f'], { host });
    t.is(after.stdout, 'from-vm\n', after.stderr);
  },
);

test.serial('docker pause stops the whole VM, unpause continues it; a paused VM can be killed', async (t) => {
  if (!assetsRelease()) return t.fail('no VM assets');
  const { reg, d, host, name } = await vmNamed(t, 'vm-pause');
  const ticker = 'i=0; while :; do echo tick$i; i=$((i+1)); sleep 0.1; done';
  const run = await docker(['run', '-d', '--runtime', 'vm', '--name', name, reg.image, 'sh', '-c', ticker], { host });
  t.is(run.code, 0, run.stderr);
  const ticks = async () => (await docker(['logs', name], { host })).stdout.split('\n').filter(Boolean).length;
  const until = async (ok: (n: number) => boolean) => {
    for (let i = 0; i < 200; i++) {
      const n = await ticks();
      if (ok(n)) return n;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the VM printed nothing more in 20 s');
  };
  await until((n) => n >= 3);

  const pause = await docker(['pause', name], { host });
  t.is(pause.code, 0, `${pause.stderr}\n--- skiffd:\n${d.current.output()}`);
  const state = await docker(['inspect', '-f', '{{.State.Status}} {{.State.Paused}}', name], { host });
  t.is(state.stdout.trim(), 'paused true');
  const frozen = await ticks();
  await new Promise((r) => setTimeout(r, 1000));
  t.is(await ticks(), frozen, 'nothing runs in a paused VM');
  const exec = await docker(['exec', name, 'true'], { host });
  t.not(exec.code, 0);
  t.regex(exec.stderr, new RegExp(`Container ${name} is paused, unpause the container before exec`));

  t.is((await docker(['unpause', name], { host })).code, 0);
  await until((n) => n > frozen);
  t.is((await docker(['inspect', '-f', '{{.State.Status}}', name], { host })).stdout.trim(), 'running');

  t.is((await docker(['pause', name], { host })).code, 0);
  const kill = await docker(['kill', name], { host });
  t.is(kill.code, 0, kill.stderr);
  t.is((await docker(['wait', name], { host })).stdout.trim(), '137');
  t.deepEqual(await qemuFor(run.stdout.trim()), []);
});

test.serial(
  "Docker's masked and read-only paths apply in the VM's /proc and /sys; --privileged lifts them",
  async (t) => {
    if (!assetsRelease()) return t.fail('no VM assets');
    const { reg, d } = await vmDaemon(t);
    const host = d.current.dockerHost;
    const script = [
      'wc -c < /proc/kcore',
      'ls /sys/firmware | wc -l',
      'grep -E " /proc/(sys|kcore|acpi|scsi|timer_list) " /proc/mounts | cut -d" " -f2-4 | sort',
      'echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo sys-WRITABLE',
      'echo done',
    ].join('; ');
    const run = await docker(['run', '--rm', '--runtime', 'vm', reg.image, 'sh', '-c', script], { host });
    t.is(run.code, 0, `${run.stderr}\n--- skiffd:\n${d.current.output()}`);
    const lines = run.stdout.trim().split('\n');
    t.is(lines[0]!.trim(), '0', '/proc/kcore is /dev/null');
    t.is(lines[1]!.trim(), '0', '/sys/firmware is an empty tmpfs');
    t.true(
      lines.some((l) => l.startsWith('/proc/kcore ')),
      run.stdout,
    );
    t.true(
      lines.some((l) => /^\/proc\/sys proc ro,/.test(l)),
      run.stdout,
    );
    t.false(run.stdout.includes('WRITABLE'));
    t.is(lines.at(-1), 'done');
    // --privileged: no masks, /proc/sys writable (as runc gives a privileged container).
    const priv = await docker(
      ['run', '--rm', '--runtime', 'vm', '--privileged', reg.image, 'sh', '-c', 'grep -c " /proc/kcore " /proc/mounts'],
      { host },
    );
    t.is(priv.stdout.trim(), '0', priv.stderr);
  },
);

test.serial(
  'docker stats and top show what a VM costs the host (its cgroup there) against its size; rm removes the cgroup',
  async (t) => {
    if (!assetsRelease()) return t.fail('no VM assets');
    const { reg, host, name } = await vmNamed(t, 'vm-stats');
    const run = await docker(['run', '-d', '--runtime', 'vm', '--name', name, reg.image, 'sleep', '600'], { host });
    t.is(run.code, 0, run.stderr);
    const id = run.stdout.trim();
    const [qemu] = await qemuFor(id);
    t.truthy(qemu);
    t.regex(await readFile(`/proc/${qemu}/cgroup`, 'utf8'), new RegExp(`/skiff/${id}$`, 'm'));

    const stats = await docker(['stats', '--no-stream', '--format', '{{.Name}} {{.MemUsage}} {{.PIDs}}', name], {
      host,
    });
    t.is(stats.code, 0, stats.stderr);
    const [, used, unit, limit, pids] = /^\S+ ([\d.]+)(\w+) \/ (\S+) (\d+)$/.exec(stats.stdout.trim()) ?? [];
    t.is(unit, 'MiB', stats.stdout);
    t.true(Number(used) > 16, `qemu's guest memory is charged to the VM: ${stats.stdout}`);
    const argv = (await readFile(`/proc/${qemu}/cmdline`, 'utf8')).split('\0');
    t.is(limit, `${argv[argv.indexOf('-m') + 1]}MiB`, "the limit is the VM's RAM (qemu -m), not the host's");
    t.true(Number(pids) >= 3, 'monitor, virtiofsd, qemu');
    const top = await docker(['top', name], { host });
    t.is(top.code, 0, top.stderr);
    t.regex(top.stdout, /qemu-system-x86_64/);
    t.regex(top.stdout, /virtiofsd/);

    t.is((await docker(['rm', '-f', name], { host })).code, 0);
    const left = execFileSync('find', ['/sys/fs/cgroup', '-maxdepth', '4', '-name', id], { encoding: 'utf8' });
    t.is(left, '', 'no cgroup of the VM is left');
  },
);

test.serial(
  'the process is PID 1 of its own pid namespace in the VM, as with runc; docker exec joins it',
  async (t) => {
    if (!assetsRelease()) return t.fail('no VM assets');
    const { reg, host, name } = await vmNamed(t, 'vm-pid1');
    const run = await docker(
      ['run', '-d', '--runtime', 'vm', '--name', name, reg.image, 'sh', '-c', 'echo pid $$; exec sleep 600'],
      { host },
    );
    t.is(run.code, 0, run.stderr);
    for (let i = 0; i < 300 && !(await docker(['logs', name], { host })).stdout.includes('pid'); i++)
      await new Promise((r) => setTimeout(r, 100));
    t.is((await docker(['logs', name], { host })).stdout, 'pid 1\n');
    // The exec sees the container's processes only: PID 1, and its own sh, ls and wc.
    const exec = await docker(['exec', name, 'sh', '-c', 'cat /proc/1/comm; ls -d /proc/[0-9]* | wc -l'], { host });
    t.is(exec.code, 0, exec.stderr);
    t.deepEqual(
      exec.stdout.split('\n').map((l) => l.trim()),
      ['sleep', '4', ''],
    );
    // PID 1 ignores a signal it has no handler for (as in a runc container): TERM leaves sleep running.
    t.is((await docker(['kill', '-s', 'TERM', name], { host })).code, 0);
    await new Promise((r) => setTimeout(r, 1000));
    t.is((await docker(['inspect', '-f', '{{.State.Running}}', name], { host })).stdout.trim(), 'true');
  },
);

test.serial(
  '--pids-limit applies in the VM; docker update changes limits live, within the memory the VM has',
  async (t) => {
    if (!assetsRelease()) return t.fail('no VM assets');
    const { reg, host, name } = await vmNamed(t, 'vm-limits');
    const run = await docker(
      [
        'run',
        '-d',
        '--runtime',
        'vm',
        '--name',
        name,
        '--pids-limit',
        '8',
        '--memory',
        '96m',
        reg.image,
        'sleep',
        '600',
      ],
      { host },
    );
    t.is(run.code, 0, run.stderr);
    // Ten background sleeps (their output elsewhere, so the exec ends with the shell): PID 1, the
    // shell and six fit under 8.
    const forks = 'i=0; while [ $i -lt 10 ]; do sleep 60 >/dev/null 2>&1 & i=$((i+1)); done; echo forked $i';
    const limited = await docker(['exec', name, 'sh', '-c', forks], { host });
    t.not(limited.code, 0);
    t.regex(limited.stderr, /can't fork/);

    t.is((await docker(['update', '--pids-limit', '40', name], { host })).code, 0);
    const raised = await docker(['exec', name, 'sh', '-c', forks], { host });
    t.is(raised.code, 0, raised.stderr);
    t.is(raised.stdout, 'forked 10\n');

    // The VM was sized for 96 MiB (plus the guest's own): a larger limit needs a new VM.
    const bigger = await docker(['update', '--memory', '512m', '--memory-swap', '-1', name], { host });
    t.is(bigger.code, 1);
    t.regex(
      bigger.stderr,
      /the VM was started with 160 MiB: a memory limit above 96 MiB takes a restart of the container/,
    );
    const smaller = await docker(['update', '--memory', '64m', '--memory-swap', '-1', '--cpus', '0.5', name], { host });
    t.is(smaller.code, 0, smaller.stderr);
    const hc = await docker(
      ['inspect', '-f', '{{.HostConfig.PidsLimit}} {{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}', name],
      {
        host,
      },
    );
    t.is(hc.stdout.trim(), `40 ${64 * 1024 * 1024} 500000000`);
    // The new limit holds in the guest: dd's 32 MiB buffer fits under 64 MiB, not under 24 MiB (the
    // guest's OOM killer ends dd).
    const fill = 'dd if=/dev/zero of=/dev/null bs=32M count=1 2>/dev/null; echo $?';
    t.is((await docker(['exec', name, 'sh', '-c', fill], { host })).stdout, '0\n');
    t.is((await docker(['update', '--memory', '24m', name], { host })).code, 0);
    t.is((await docker(['exec', name, 'sh', '-c', fill], { host })).stdout, '137\n');
  },
);
