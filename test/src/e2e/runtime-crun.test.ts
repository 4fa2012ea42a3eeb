// `--runtime crun` through the docker CLI: what a user sees is what runc gives (exit codes and
// messages of processes that cannot start, exec, live updates, pause, stop, rm). Runs where crun
// can run containers; says why not elsewhere.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import test from 'ava';
import { crunOnThisHost, docker, driverDaemons } from '../harness/index.js';

const { registry, daemonFor, stopAll } = driverDaemons();
test.after.always(stopAll);

const crun = crunOnThisHost();
const skip = crun.state === 'ok' ? undefined : `crun cannot run containers here (${crun.state})`;
if (skip) console.log(`runtime-crun skipped: ${skip}`);
const crunTest = skip ? test.skip : test.serial;

const uid = () => randomBytes(4).toString('hex');

async function setup() {
  const d = await daemonFor('overlay');
  const reg = await registry();
  const cli = (...args: string[]) => docker(args, { host: d.dockerHost });
  return { d, reg, cli };
}

crunTest('--runtime crun: output, exit codes, and 127/126 in runc’s words for what cannot start', async (t) => {
  const { reg, cli } = await setup();
  const ok = await cli('run', '--rm', '--runtime', 'crun', reg.image, 'sh', '-c', 'echo from-crun; exit 3');
  t.is(ok.code, 3, ok.stderr);
  t.is(ok.stdout, 'from-crun\n');
  const missing = await cli('run', '--rm', '--runtime', 'crun', reg.image, 'no-such-command');
  t.is(missing.code, 127, missing.stderr);
  t.regex(missing.stderr, /OCI runtime create failed: exec: "no-such-command": executable file not found in \$PATH/);
  const path = await cli('run', '--rm', '--runtime', 'crun', reg.image, '/no/such/file');
  t.is(path.code, 127, path.stderr);
  t.regex(path.stderr, /exec: "\/no\/such\/file": stat \/no\/such\/file: no such file or directory/);
  const denied = await cli('run', '--rm', '--runtime', 'crun', reg.image, '/etc/passwd');
  t.is(denied.code, 126, denied.stderr);
  t.regex(denied.stderr, /exec: "\/etc\/passwd": permission denied/);
});

crunTest('--runtime crun: exec, update, pause, stop and rm behave as with runc', async (t) => {
  const { d, reg, cli } = await setup();
  const name = `crun-${uid()}`;
  const run = await cli('run', '-d', '--runtime', 'crun', '--name', name, '--memory', '64m', reg.image, 'sleep', '600');
  t.is(run.code, 0, run.stderr);
  t.teardown(() => cli('rm', '-f', name));
  t.is((await cli('inspect', '-f', '{{.HostConfig.Runtime}}', name)).stdout, 'crun\n');

  const exec = await cli('exec', name, 'sh', '-c', 'echo in; exit 4');
  t.is(exec.code, 4, exec.stderr);
  t.is(exec.stdout, 'in\n');
  const nocmd = await cli('exec', name, 'no-such-command');
  t.is(nocmd.code, 127, nocmd.stderr);
  // As dockerd does, on the attached stream.
  t.regex(nocmd.stdout, /OCI runtime exec failed: exec: "no-such-command": executable file not found in \$PATH/);

  const up = await cli('update', '--memory', '96m', '--memory-swap', '192m', '--pids-limit', '50', name);
  t.is(up.code, 0, up.stderr);
  t.is((await cli('inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}', name)).stdout, '100663296 50\n');
  const pid = (await cli('inspect', '-f', '{{.State.Pid}}', name)).stdout.trim();
  const memcg = (await readFile(`/proc/${pid}/cgroup`, 'utf8')).match(/^\d+:memory:(.*)$/m)?.[1];
  if (memcg) {
    const limit = await readFile(`/sys/fs/cgroup/memory${memcg}/memory.limit_in_bytes`, 'utf8');
    t.is(limit.trim(), '100663296', 'the cgroup has the new limit');
  }

  t.is((await cli('pause', name)).code, 0);
  t.is((await cli('inspect', '-f', '{{.State.Status}}', name)).stdout, 'paused\n');
  t.is((await cli('unpause', name)).code, 0);
  const stop = await cli('stop', '-t', '1', name);
  t.is(stop.code, 0, stop.stderr);
  t.is((await cli('inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', name)).stdout, 'exited 137\n');
  const again = await cli('start', name);
  t.is(again.code, 0, again.stderr);
  t.is((await cli('rm', '-f', name)).code, 0);
  t.regex((await cli('inspect', name)).stderr, /No such object|No such container/);
  t.regex(d.output(), /skiffd is serving/);
});
