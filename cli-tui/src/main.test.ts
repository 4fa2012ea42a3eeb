import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import test from 'ava';
import { runCli } from './main.js';

async function cli(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await runCli(argv, {
    streams: { stdin: new PassThrough(), stdout, stderr },
    env,
    hooks: new EventEmitter(),
  });
  return { code, out, err };
}

test('unknown command: exit 1, docker wording', async (t) => {
  const r = await cli(['foo']);
  t.is(r.code, 1);
  t.is(r.err, "skiff: unknown command: skiff foo\n\nRun 'skiff --help' for more information\n");
});

test('unknown flags: exit 125 with usage', async (t) => {
  const r = await cli(['ps', '--bogus']);
  t.is(r.code, 125);
  t.is(r.err, "unknown flag: --bogus\n\nUsage:  skiff ps [OPTIONS]\n\nRun 'skiff ps --help' for more information\n");
  t.is((await cli(['--bogus'])).code, 125);
  const e = await cli(['run', '-e']);
  t.is(e.code, 125);
  t.true(e.err.startsWith("flag needs an argument: 'e' in -e\n"));
});

test('argument count errors: exit 1', async (t) => {
  const run = await cli(['run']);
  t.is(run.code, 1);
  t.is(
    run.err,
    "skiff: 'skiff run' requires at least 1 argument\n\nUsage:  skiff run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nSee 'skiff run --help' for more information\n",
  );
  const ps = await cli(['ps', 'extra']);
  t.is(ps.code, 1);
  t.true(ps.err.startsWith("skiff: 'skiff ps' accepts no arguments\n"));
  t.true(ps.err.endsWith("Run 'skiff ps --help' for more information\n"));
  t.is((await cli(['pull'])).code, 1);
  t.is((await cli(['rm'])).code, 1);
});

test('help and version need no daemon', async (t) => {
  const help = await cli(['--help']);
  t.is(help.code, 0);
  t.regex(help.out, /^Usage: {2}skiff \[OPTIONS\] COMMAND/);
  for (const name of ['run', 'ps', 'pull', 'images', 'rm', 'version', 'info'])
    t.regex(help.out, new RegExp(`\\n  ${name} `));
  t.is((await cli([])).code, 0);
  const psHelp = await cli(['ps', '--help']);
  t.is(psHelp.code, 0);
  t.regex(psHelp.out, /-a, --all/);
  // -h is --hostname for run, like docker; --help still works
  t.regex((await cli(['run', '--help'])).out, /-h, --hostname/);
  t.regex((await cli(['-v'])).out, /^skiff version \d/);
});

test('unreachable daemon and bad hosts: exit 1 with a clear line', async (t) => {
  const missing = `unix:///tmp/skiff-cli-missing-${process.pid}-${Date.now()}.sock`;
  const ps = await cli(['-H', missing, 'ps']);
  t.is(ps.code, 1);
  t.is(ps.err, `Cannot connect to the skiff daemon at ${missing}. Is the skiff daemon running?\n`);
  const run = await cli(['run', 'busybox'], { SKIFF_HOST: missing });
  t.is(run.code, 125);
  t.true(run.err.startsWith(`skiff: Cannot connect to the skiff daemon at ${missing}.`));
  const version = await cli(['version'], { DOCKER_HOST: missing });
  t.is(version.code, 1);
  t.regex(version.out, /^Client:\n Version: +\S+\n API version: +1\.41\n/);
  const bad = await cli(['-H', 'ssh://x', 'ps']);
  t.is(bad.code, 1);
  t.regex(bad.err, /unsupported protocol "ssh"/);
});

test('invalid image references are rejected before any request', async (t) => {
  const missing = `unix:///tmp/skiff-cli-missing-${process.pid}.sock`;
  const pull = await cli(['-H', missing, 'pull', 'UPPER']);
  t.is(pull.code, 1);
  t.is(pull.err, 'invalid reference format: repository name (library/UPPER) must be lowercase\n');
  const run = await cli(['-H', missing, 'run', 'a b']);
  t.is(run.code, 125);
  t.is(run.err, "skiff: invalid reference format\n\nRun 'skiff run --help' for more information\n");
});
