import { EventEmitter } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import test from 'ava';
import { runCli } from '../main.js';

async function cli(argv: string[], env: NodeJS.ProcessEnv = {}, input?: string) {
  const stdin = new PassThrough();
  if (input !== undefined) stdin.end(input);
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  // A socket that cannot exist: these commands must fail before talking to a daemon.
  const code = await runCli(argv, {
    streams: { stdin, stdout, stderr },
    env: { SKIFF_HOST: 'unix:///nonexistent/skiff-group-test.sock', ...env },
    hooks: new EventEmitter(),
  });
  return { code, out, err };
}

test('a group without a subcommand prints its commands', async (t) => {
  const r = await cli(['network']);
  t.is(r.code, 0);
  t.is(r.out, '');
  t.regex(r.err, /^Usage: {2}skiff network COMMAND\n\nManage networks\n\nCommands:\n {2}connect /);
  t.regex(r.err, /\n {2}prune +Remove all unused networks\n/);
});

test('group --help, help GROUP and GROUP bogus --help list the subcommands sorted, in cobra columns', async (t) => {
  for (const argv of [
    ['image', '--help'],
    ['image', '-h'],
    ['help', 'image'],
    ['image', 'bogus', '--help'],
  ]) {
    const r = await cli(argv);
    t.is(r.code, 0, argv.join(' '));
    if (argv.includes('-h')) {
      t.true(r.out.startsWith('Flag shorthand -h has been deprecated, use --help\n'));
      r.out = r.out.slice(r.out.indexOf('\n') + 1);
    }
    t.regex(r.out, /^Usage: {2}skiff image COMMAND\n\nManage images\n\nCommands:\n {2}build {7}Build /, argv.join(' '));
    t.regex(r.out, /\n {2}ls {10}List images\n/);
    t.true(r.out.endsWith("\n\nRun 'skiff image COMMAND --help' for more information on a command.\n"));
  }
  const sub = await cli(['help', 'image', 'ls']);
  t.true(sub.out.startsWith('Usage:  skiff image ls [OPTIONS] [REPOSITORY[:TAG]]\n'), sub.out);
});

test('unknown subcommands, bad flags and argument counts fail like docker', async (t) => {
  const unknown = await cli(['image', 'frobnicate']);
  t.is(unknown.code, 1);
  t.is(
    unknown.err,
    "skiff: unknown command: skiff image frobnicate\n\nUsage:  skiff image\n\nRun 'skiff image --help' for more information\n",
  );
  const groupFlag = await cli(['image', '--bogus']);
  t.is(groupFlag.code, 125);
  t.is(
    groupFlag.err,
    "unknown flag: --bogus\n\nUsage:  skiff image\n\nRun 'skiff image --help' for more information\n",
  );
  const flag = await cli(['volume', 'ls', '--bogus']);
  t.is(flag.code, 125);
  t.is(
    flag.err,
    "unknown flag: --bogus\n\nUsage:  skiff volume ls [OPTIONS]\n\nRun 'skiff volume ls --help' for more information\n",
  );
  const args = await cli(['network', 'connect', 'only-one']);
  t.is(args.code, 1);
  t.true(args.err.startsWith("skiff: 'skiff network connect' requires 2 arguments\n"), args.err);
  const filter = await cli(['image', 'ls', '--filter', 'nokey']);
  t.is(filter.code, 125);
  t.true(filter.err.startsWith('invalid argument "nokey" for "-f, --filter" flag: bad format of filter'), filter.err);
  t.true(filter.err.includes('Usage:  skiff image ls [OPTIONS] [REPOSITORY[:TAG]]'), filter.err);
  const top = await cli(['images', '--filter', 'nokey']);
  t.is(top.code, 125);
  t.true(top.err.includes('Usage:  skiff images [OPTIONS] [REPOSITORY[:TAG]]'), top.err);
});

test('subcommand help shows aliases and options; aliases run the same command', async (t) => {
  const help = await cli(['image', 'rm', '--help']);
  t.is(help.code, 0);
  t.true(help.out.startsWith('Usage:  skiff image rm [OPTIONS] IMAGE [IMAGE...]\n'), help.out);
  t.true(help.out.includes('Aliases:\n  skiff image rm, skiff image remove'), help.out);
  t.regex(help.out, /-f, --force +Force removal of the image/);
  const alias = await cli(['image', 'remove']);
  t.is(alias.code, 1);
  t.true(alias.err.includes("'skiff image rm' requires at least 1 argument"), alias.err);
});

test('completion needs no daemon; an unknown shell is an error', async (t) => {
  const bash = await cli(['completion', 'bash']);
  t.is(bash.code, 0, bash.err);
  t.regex(bash.out, /^ {4}image\)$/m);
  t.true(bash.out.includes('complete -F _skiff skiff'));
  const zsh = await cli(['completion', 'zsh']);
  t.true(zsh.out.startsWith('#compdef skiff'));
  const fish = await cli(['completion', 'fish']);
  t.is(fish.code, 1);
  t.is(fish.err, 'unsupported shell "fish": use one of bash, zsh\n');
});

test('login refuses conflicting password flags before any network traffic', async (t) => {
  const r = await cli(['login', '-p', 'x', '--password-stdin', 'r:1']);
  t.is(r.code, 1);
  t.is(r.err, 'conflicting options: cannot specify both --password and --password-stdin\n');
  const noUser = await cli(['login', '--password-stdin', 'r:1']);
  t.is(noUser.err, 'the --password-stdin option requires --username to be set\n');
});

test('login with a broken config.json names the file and leaves it alone', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-badcfg-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'config.json'), '{broken');
  const r = await cli(['login', '-u', 'me', '--password-stdin', 'r:1'], { DOCKER_CONFIG: dir }, 'pw\n');
  t.is(r.code, 1);
  t.true(r.err.startsWith(`error loading config file: ${join(dir, 'config.json')}: `), r.err);
  t.is(await readFile(join(dir, 'config.json'), 'utf8'), '{broken');
});
