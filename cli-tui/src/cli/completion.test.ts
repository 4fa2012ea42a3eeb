import { spawnSync } from 'node:child_process';
import test from 'ava';
import { defineGroup } from './group.js';
import { argKind, bashCompletion, zshCompletion } from './completion.js';
import type { Command } from '../commands/types.js';

const leaf = (name: string, usage: string, flags: Command['flags'] = []): Command => ({
  name,
  usage,
  summary: `${name}'s summary: with colon`,
  flags,
  interspersed: true,
  args: {},
  run: async () => 0,
});

const commands: Command[] = [
  leaf('ps', 'ps [OPTIONS]', [{ name: 'all', short: 'a', type: 'bool', description: 'Show all' }]),
  leaf('build', 'build [OPTIONS] PATH | URL | -', [{ name: 'tag', short: 't', type: 'list', description: 'Name' }]),
  defineGroup('network', 'Manage networks', [
    { ...leaf('rm', 'rm NETWORK [NETWORK...]'), aliases: ['remove'] },
    leaf('connect', 'connect [OPTIONS] NETWORK CONTAINER'),
  ]),
];
const spec = {
  program: 'skiff',
  globalFlags: [{ name: 'host', short: 'H', type: 'list' as const, description: 'Daemon socket' }],
  commands,
};

test('argument kinds come from the usage line', (t) => {
  t.is(argKind('rm [OPTIONS] CONTAINER [CONTAINER...]'), 'container');
  t.is(argKind('tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]'), 'image');
  t.is(argKind('pull [OPTIONS] NAME[:TAG|@DIGEST]'), 'image');
  t.is(argKind('build [OPTIONS] PATH | URL | -'), 'file');
  t.is(argKind('ls [OPTIONS]'), 'none');
});

/** Sources the script in bash and asks for the completions of `line` (cursor at its end). */
function complete(line: string): string[] {
  const words = line.split(' ');
  const script = `${bashCompletion(spec)}
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}
_skiff; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout.split('\n').filter(Boolean).sort();
}

test('bash: commands, subcommands with aliases, flags, after -H values', (t) => {
  t.deepEqual(complete('skiff '), ['build', 'network', 'ps']);
  t.deepEqual(complete('skiff n'), ['network']);
  t.deepEqual(complete('skiff -H unix:///x.sock p'), ['ps']);
  t.deepEqual(complete('skiff --'), ['--host']);
  t.deepEqual(complete('skiff network '), ['connect', 'remove', 'rm']);
  t.deepEqual(complete('skiff ps -'), ['--all', '--help', '-a']);
  t.deepEqual(complete('skiff network remove --'), ['--help']);
  t.deepEqual(complete('skiff build --t'), ['--tag']);
});

test('bash: the script is valid and registers the function', (t) => {
  const r = spawnSync('bash', ['-n'], { input: bashCompletion(spec), encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  t.regex(bashCompletion(spec), /^complete -F _skiff skiff$/m);
});

test('zsh: compdef header, descriptions with escaped colons and quotes', (t) => {
  const z = zshCompletion(spec);
  t.true(z.startsWith('#compdef skiff\n'));
  t.true(z.includes(`'ps:ps'\\''s summary: with colon'`), z);
  t.true(z.includes(`'--all:Show all' '-a:Show all'`));
  t.regex(z, /^ {4}network\)$/m);
  t.regex(z, /^ {8}rm\|remove\)$/m);
  t.true(z.includes("skiff network ls --format '{{.Name}}'"), 'network names asked of the daemon');
  t.true(z.includes("skiff ps -a --format '{{.Names}}'"), 'container names asked of the daemon');
  // zsh is not installed here; bash at least parses the common shell syntax of each function body.
  t.regex(z, /compdef _skiff skiff/);
});
