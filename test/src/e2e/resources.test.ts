import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import test from 'ava';
import { api, docker, driverDaemons, socketPathOf } from '../harness/index.js';

// Resource limits (docker run/update), docker stats, docker top, pause/unpause and OOMKilled,
// with the docker CLI against skiffd on runc, on cgroup v1 (or hybrid) and v2 hosts alike.

const { registry, daemonFor, stopAll } = driverDaemons();
test.after.always(stopAll);
const uid = () => randomBytes(4).toString('hex');
const MiB = 1024 * 1024;
const ZERO_TIME = '0001-01-01T00:00:00Z';

async function setup() {
  const [d, reg] = await Promise.all([daemonFor('overlay'), registry()]);
  const host = d.dockerHost;
  const cli = (...args: string[]) => docker(args, { host });
  return { d, reg, host, cli };
}

/** The limits as the container sees them in its own cgroup files (v1 names, or v2 ones translated). */
const CGROUP_LIMITS = `
if [ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
  echo memory=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)
  echo memsw=$(cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes 2>/dev/null || echo none)
  echo quota=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) period=$(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)
  echo shares=$(cat /sys/fs/cgroup/cpu/cpu.shares)
  echo cpuset=$(cat /sys/fs/cgroup/cpuset/cpuset.cpus)
  echo pids=$(cat /sys/fs/cgroup/pids/pids.max)
else
  echo memory=$(cat /sys/fs/cgroup/memory.max)
  echo swap=$(cat /sys/fs/cgroup/memory.swap.max 2>/dev/null || echo none)
  set -- $(cat /sys/fs/cgroup/cpu.max); echo quota=$1 period=$2
  echo weight=$(cat /sys/fs/cgroup/cpu.weight)
  echo cpuset=$(cat /sys/fs/cgroup/cpuset.cpus)
  echo pids=$(cat /sys/fs/cgroup/pids.max)
fi`;

async function cgroupLimits(
  cli: (...a: string[]) => Promise<{ code: number; stdout: string; stderr: string }>,
  name: string,
) {
  const r = await cli('exec', name, 'sh', '-c', CGROUP_LIMITS);
  if (r.code !== 0) throw new Error(`reading the cgroup files failed: ${r.stderr}`);
  const out: Record<string, string> = {};
  for (const m of r.stdout.matchAll(/(\w+)=(\S+)/g)) out[m[1]!] = m[2]!;
  return out;
}

/** runc's shares → cgroup v2 weight conversion (what `cpu.weight` shows for `--cpu-shares`). */
const weightOf = (shares: number) => String(1 + Math.floor(((shares - 2) * 9999) / 262142));

async function hostConfig(cli: (...a: string[]) => Promise<{ stdout: string }>, name: string) {
  return JSON.parse((await cli('inspect', '-f', '{{json .HostConfig}}', name)).stdout) as Record<string, unknown>;
}

test('run with limits: cgroup files and inspect agree; docker update changes them live', async (t) => {
  const { d, reg, cli } = await setup();
  const name = `limits-${uid()}`;
  t.teardown(() => cli('rm', '-f', name));
  const r = await cli(
    'run',
    '-d',
    '--name',
    name,
    '--memory',
    '32m',
    '--cpus',
    '0.5',
    '--cpu-shares',
    '512',
    '--cpuset-cpus',
    '0',
    '--pids-limit',
    '50',
    reg.image,
    'sleep',
    '600',
  );
  t.is(r.code, 0, r.stderr);
  const hc = await hostConfig(cli, name);
  // dockerd stores the swap limit it defaults to (twice the memory) and the CPU quota as NanoCpus.
  t.like(hc, {
    Memory: 32 * MiB,
    MemorySwap: 64 * MiB,
    NanoCpus: 500_000_000,
    CpuShares: 512,
    CpusetCpus: '0',
    PidsLimit: 50,
  });
  let cg = await cgroupLimits(cli, name);
  t.is(cg.memory, String(32 * MiB));
  t.is(cg.quota, '50000');
  t.is(cg.period, '100000');
  t.is(cg.cpuset, '0');
  t.is(cg.pids, '50');
  if ('shares' in cg) {
    t.is(cg.shares, '512');
    if (cg.memsw !== 'none') t.is(cg.memsw, String(64 * MiB));
  } else {
    t.is(cg.weight, weightOf(512));
    if (cg.swap !== 'none') t.is(cg.swap, String(32 * MiB));
  }

  const up = await cli('update', '--memory', '48m', '--cpus', '1', '--cpu-shares', '1024', '--pids-limit', '80', name);
  t.is(up.code, 0, up.stderr);
  t.is(up.stdout.trim(), name);
  cg = await cgroupLimits(cli, name);
  t.is(cg.memory, String(48 * MiB));
  t.is(cg.quota, '100000');
  t.is(cg.pids, '80');
  t.is(cg.shares ?? cg.weight, 'shares' in cg ? '1024' : weightOf(1024));
  t.like(await hostConfig(cli, name), {
    Memory: 48 * MiB,
    MemorySwap: 64 * MiB,
    NanoCpus: 1_000_000_000,
    CpuShares: 1024,
    PidsLimit: 80,
  });

  // Above the swap limit already set, without a new one: dockerd's 409.
  const over = await cli('update', '--memory', '100m', name);
  t.not(over.code, 0);
  t.regex(over.stderr, /Memory limit should be smaller than already set memoryswap limit/);
  const both = await cli('update', '--memory', '100m', '--memory-swap', '200m', name);
  t.is(both.code, 0, both.stderr);
  t.is((await cgroupLimits(cli, name)).memory, String(100 * MiB));

  // The API answers dockerd's body, and an update event is published.
  const res = await api(d.dockerHost, 'POST', `/v1.41/containers/${name}/update`, { PidsLimit: 90 });
  t.is(res.status, 200, res.body);
  t.deepEqual(res.json, { Warnings: [] });
  t.is((await cgroupLimits(cli, name)).pids, '90');
});

test('docker update on a stopped container is applied at its next start', async (t) => {
  const { reg, cli } = await setup();
  const name = `upd-stopped-${uid()}`;
  t.teardown(() => cli('rm', '-f', name));
  t.is((await cli('create', '--name', name, '--memory', '16m', reg.image, 'sleep', '600')).code, 0);
  const up = await cli('update', '--memory', '24m', '--pids-limit', '33', name);
  t.is(up.code, 0, up.stderr);
  t.is((await cli('start', name)).code, 0);
  const cg = await cgroupLimits(cli, name);
  t.is(cg.memory, String(24 * MiB));
  t.is(cg.pids, '33');
});

test('bad limits are refused with dockerd messages; skiffd keeps answering', async (t) => {
  const { d, reg, cli } = await setup();
  const cases: Array<[string[], RegExp]> = [
    [['--memory', '1m'], /Minimum memory limit allowed is 6MB/],
    [['--memory', '32m', '--memory-swap', '16m'], /Minimum memoryswap limit should be larger than memory limit/],
    [['--cpuset-cpus', '0-x'], /Invalid value 0-x for cpuset cpus/],
    [['--cpuset-cpus', '4096'], /Requested CPUs are not available - requested 4096/],
    [['--cpu-period', '100'], /CPU cfs period can not be less than 1ms/],
    [['--cpu-quota', '500'], /CPU cfs quota can not be less than 1ms/],
    [['--cpus', '0.5', '--cpu-period', '100000'], /Conflicting options: Nano CPUs and CPU Period cannot both be set/],
  ];
  for (const [flags, message] of cases) {
    const r = await cli('create', ...flags, reg.image, 'true');
    t.not(r.code, 0, flags.join(' '));
    t.regex(r.stderr, message, flags.join(' '));
  }
  const name = `badupd-${uid()}`;
  t.teardown(() => cli('rm', '-f', name));
  t.is((await cli('run', '-d', '--name', name, '--memory', '32m', reg.image, 'sleep', '600')).code, 0);
  const tiny = await cli('update', '--memory', '1m', name);
  t.not(tiny.code, 0);
  t.regex(tiny.stderr, /Minimum memory limit allowed is 6MB/);
  const cases400: unknown[] = [{ Memory: 'lots' }, { CpusetCpus: 7 }, { MemorySwappiness: 200 }, [1], { NanoCpus: -1 }];
  for (const body of cases400) {
    const res = await api(d.dockerHost, 'POST', `/v1.41/containers/${name}/update`, body);
    t.is(res.status, 400, `${JSON.stringify(body)} → ${res.body}`);
  }
  const conflict = await api(d.dockerHost, 'POST', `/v1.41/containers/${name}/update`, { CpuPeriod: 100000 });
  t.is(conflict.status, 200, conflict.body);
  const nano = await api(d.dockerHost, 'POST', `/v1.41/containers/${name}/update`, { NanoCpus: 500_000_000 });
  t.is(nano.status, 409, nano.body);
  t.regex(String((nano.json as { message?: string }).message), /Nano CPUs cannot be updated as CPU Period/);
  t.is((await api(d.dockerHost, 'POST', '/v1.41/containers/nosuch-xyz/update', {})).status, 404);
  t.is((await api(d.dockerHost, 'GET', '/_ping')).body, 'OK');
});

/** Reads `count` JSON lines of a streaming endpoint, then hangs up. */
function streamLines(host: string, path: string, count: number): Promise<Array<Record<string, unknown>>> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath: socketPathOf(host), path, agent: false }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`${path}: ${res.statusCode}`));
      let buf = '';
      const out: Array<Record<string, unknown>> = [];
      res.setEncoding('utf8');
      res.on('data', (s: string) => {
        buf += s;
        for (let nl = buf.indexOf('\n'); nl >= 0 && out.length < count; nl = buf.indexOf('\n')) {
          out.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
          buf = buf.slice(nl + 1);
        }
        if (out.length >= count) {
          req.destroy();
          resolve(out);
        }
      });
      res.on('error', () => {});
    });
    req.on('error', (e) => (e.message.includes('socket hang up') ? undefined : reject(e)));
    req.setTimeout(120_000, () => req.destroy(new Error('no stats in time')));
  });
}

test('docker stats --no-stream prints usage and limit; the API has dockerd shape', async (t) => {
  const { d, reg, cli } = await setup();
  const name = `stats-${uid()}`;
  t.teardown(() => cli('rm', '-f', name));
  t.is((await cli('run', '-d', '--name', name, '--memory', '64m', reg.image, 'sleep', '600')).code, 0);
  const table = await cli('stats', '--no-stream', name);
  t.is(table.code, 0, table.stderr);
  const [header, row] = table.stdout.trim().split('\n');
  t.regex(header ?? '', /^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS$/);
  t.true(row?.includes(name), table.stdout);
  t.regex(row ?? '', /\d+(\.\d+)?[kKMG]?i?B \/ 64MiB/);
  const fmt = await cli('stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}} {{.MemUsage}}', name);
  t.regex(fmt.stdout.trim(), new RegExp(`^${name} 1 \\S+ / 64MiB$`));

  // stream=0: two samples (read after preread); one-shot: one, with an empty precpu.
  const two = (await api(d.dockerHost, 'GET', `/v1.41/containers/${name}/stats?stream=0`)).json as Record<
    string,
    unknown
  >;
  t.is(two.name, `/${name}`);
  t.regex(String(two.id), /^[0-9a-f]{64}$/);
  t.not(two.preread, ZERO_TIME);
  t.true(Date.parse(String(two.read)) > Date.parse(String(two.preread)));
  const mem = two.memory_stats as { usage: number; limit: number; stats: Record<string, number> };
  t.is(mem.limit, 64 * MiB);
  t.true(mem.usage > 0);
  t.is(typeof mem.stats, 'object');
  t.is((two.pids_stats as { current: number }).current, 1);
  const cpu = two.cpu_stats as { cpu_usage: { total_usage: number }; system_cpu_usage: number; online_cpus: number };
  t.true(cpu.cpu_usage.total_usage > 0);
  t.true(cpu.system_cpu_usage > 0);
  t.true(cpu.online_cpus >= 1);
  t.true(((two.precpu_stats as typeof cpu).system_cpu_usage ?? 0) > 0);
  t.deepEqual(Object.keys(two).slice(0, 11), [
    'read',
    'preread',
    'pids_stats',
    'blkio_stats',
    'num_procs',
    'storage_stats',
    'cpu_stats',
    'precpu_stats',
    'memory_stats',
    'name',
    'id',
  ]);
  const one = (await api(d.dockerHost, 'GET', `/v1.41/containers/${name}/stats?stream=0&one-shot=1`)).json as Record<
    string,
    unknown
  >;
  t.is(one.preread, ZERO_TIME);
  t.is((one.precpu_stats as { cpu_usage: { total_usage: number } }).cpu_usage.total_usage, 0);

  // Streaming: one object per line, each carrying the previous sample.
  const frames = await streamLines(d.dockerHost, `/v1.41/containers/${name}/stats`, 2);
  t.is(frames.length, 2);
  t.is(frames[1]!.preread, frames[0]!.read);

  // A stopped container: Go's zero stats with name and id.
  t.is((await cli('stop', '-t', '0', name)).code, 0);
  const stopped = (await api(d.dockerHost, 'GET', `/v1.41/containers/${name}/stats?stream=0`)).json as Record<
    string,
    unknown
  >;
  t.is(stopped.read, ZERO_TIME);
  t.is(stopped.name, `/${name}`);
  t.deepEqual(stopped.memory_stats, {});
  t.is((await api(d.dockerHost, 'GET', '/v1.41/containers/nosuch-xyz/stats?stream=0')).status, 404);
});

test('docker top lists the container processes, with ps options', async (t) => {
  const { d, reg, cli } = await setup();
  const name = `top-${uid()}`;
  t.teardown(() => cli('rm', '-f', name));
  t.is((await cli('run', '-d', '--name', name, reg.image, 'sh', '-c', 'sleep 600 & sleep 700')).code, 0);
  const top = await cli('top', name);
  t.is(top.code, 0, top.stderr);
  const lines = top.stdout.trim().split('\n');
  t.regex(lines[0] ?? '', /^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$/);
  t.true(
    lines.some((l) => /sleep 600$/.test(l)),
    top.stdout,
  );
  t.true(
    lines.some((l) => /sleep 700$/.test(l)),
    top.stdout,
  );
  // The header and the two sleeps (sh execs its last command): nothing of the host.
  t.is(lines.length, 3, top.stdout);
  const custom = await cli('top', name, '-o', 'pid,comm');
  t.is(custom.code, 0, custom.stderr);
  t.regex(custom.stdout, /^PID\s+COMMAND\n/);
  t.regex(custom.stdout, /\d+\s+sleep\n/);
  const res = await api(d.dockerHost, 'GET', `/v1.41/containers/${name}/top?ps_args=aux`);
  t.is(res.status, 200);
  t.true((res.json as { Titles: string[] }).Titles.includes('%CPU'));
  const bad = await api(
    d.dockerHost,
    'GET',
    `/v1.41/containers/${name}/top?ps_args=${encodeURIComponent('-o user=PID')}`,
  );
  t.is(bad.status, 400);
  t.is((bad.json as { message: string }).message, 'specifying "user=PID" is not allowed');
  t.is((await cli('stop', '-t', '0', name)).code, 0);
  const stopped = await cli('top', name);
  t.not(stopped.code, 0);
  t.regex(stopped.stderr, /is not running/);
});

/** The freezer state of the container's cgroup, as the host sees it. */
function frozen(id: string): boolean | undefined {
  for (const [file, yes] of [
    [`/sys/fs/cgroup/freezer/skiff/${id}/freezer.state`, 'FROZEN'],
    [`/sys/fs/cgroup/skiff/${id}/cgroup.freeze`, '1'],
  ] as const) {
    if (existsSync(file)) return readFileSync(file, 'utf8').trim() === yes;
  }
  return undefined;
}

test('pause and unpause: inspect, ps, freezer, events, conflicts; stop thaws', async (t) => {
  const { d, reg, cli } = await setup();
  const name = `pause-${uid()}`;
  t.teardown(() => cli('rm', '-f', name));
  const since = Math.floor(Date.now() / 1000) - 1;
  const run = await cli('run', '-d', '--name', name, reg.image, 'sleep', '600');
  t.is(run.code, 0, run.stderr);
  const id = run.stdout.trim();
  t.is((await cli('pause', name)).code, 0);
  t.is(
    (await cli('inspect', '-f', '{{.State.Status}} {{.State.Running}} {{.State.Paused}}', name)).stdout.trim(),
    'paused true true',
  );
  t.regex((await cli('ps', '--filter', `name=${name}`, '--format', '{{.Status}}')).stdout.trim(), /^Up .+ \(Paused\)$/);
  t.not(frozen(id), false);
  const again = await cli('pause', name);
  t.not(again.code, 0);
  t.regex(again.stderr, new RegExp(`Container ${id} is already paused`));
  t.is((await api(d.dockerHost, 'POST', `/v1.41/containers/${name}/pause`)).status, 409);
  // No exec in a paused container: refused at create with a 409, naming the container as asked.
  const exec = await cli('exec', name, 'true');
  t.is(exec.code, 1);
  t.regex(exec.stderr, new RegExp(`Container ${name} is paused, unpause the container before exec`));
  // Still counted as running: top works, stats too.
  t.is((await cli('top', name)).code, 0);

  t.is((await cli('unpause', name)).code, 0);
  t.is((await cli('inspect', '-f', '{{.State.Status}} {{.State.Paused}}', name)).stdout.trim(), 'running false');
  t.not(frozen(id), true);
  const notPaused = await cli('unpause', name);
  t.not(notPaused.code, 0);
  t.regex(notPaused.stderr, /is not paused/);

  // A paused container stops (dockerd thaws it so the signal lands) and is no longer paused.
  t.is((await cli('pause', name)).code, 0);
  const stop = await cli('stop', '-t', '1', name);
  t.is(stop.code, 0, stop.stderr);
  t.is((await cli('inspect', '-f', '{{.State.Status}} {{.State.Paused}}', name)).stdout.trim(), 'exited false');
  const stopped = await api(d.dockerHost, 'POST', `/v1.41/containers/${name}/pause`);
  t.is(stopped.status, 409);
  t.regex((stopped.json as { message: string }).message, /is not running/);

  const until = Math.floor(Date.now() / 1000) + 1;
  const filters = encodeURIComponent(JSON.stringify({ container: [name], event: ['pause', 'unpause'] }));
  const events = await api(d.dockerHost, 'GET', `/v1.41/events?since=${since}&until=${until}&filters=${filters}`);
  const actions = events.body
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { Action: string }).Action);
  t.deepEqual(actions, ['pause', 'unpause', 'pause', 'unpause']);
  t.is((await api(d.dockerHost, 'GET', '/_ping')).body, 'OK');
});

test('a container killed by the OOM killer shows OOMKilled in inspect', async (t) => {
  const { reg, cli } = await setup();
  const name = `oom-${uid()}`;
  const calm = `calm-${uid()}`;
  t.teardown(() => cli('rm', '-f', name, calm));
  const r = await cli(
    'run',
    '--name',
    name,
    '--memory',
    '8m',
    '--memory-swap',
    '8m',
    reg.image,
    'sh',
    '-c',
    'x=a; while true; do x=$x$x; done',
  );
  t.is(r.code, 137, r.stderr);
  t.is((await cli('inspect', '-f', '{{.State.OOMKilled}} {{.State.ExitCode}}', name)).stdout.trim(), 'true 137');
  t.is((await cli('run', '--name', calm, '--memory', '8m', reg.image, 'true')).code, 0);
  t.is((await cli('inspect', '-f', '{{.State.OOMKilled}}', calm)).stdout.trim(), 'false');
});
