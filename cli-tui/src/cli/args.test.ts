import test from 'ava';
import { RUN_FLAGS } from '../commands/run-options.js';
import { type FlagSpec, parseArgs } from './args.js';
import { UsageError } from './errors.js';

const PS: FlagSpec[] = [
  { name: 'all', short: 'a', type: 'bool', description: '' },
  { name: 'quiet', short: 'q', type: 'bool', description: '' },
  { name: 'filter', short: 'f', type: 'list', description: '' },
];

test('interspersed flags, clusters, = forms, repeated lists, --', (t) => {
  t.deepEqual(parseArgs(['x', '-aq', '--filter=a=b', '-f', 'c', '-fd', 'y', '--', '-z'], PS, { interspersed: true }), {
    flags: { all: true, quiet: true, filter: ['a=b', 'c', 'd'] },
    args: ['x', 'y', '-z'],
  });
  t.deepEqual(parseArgs(['--all=false', '-q=true'], PS, { interspersed: true }).flags, { all: false, quiet: true });
});

test('docker run stops at the image: later flags belong to the command', (t) => {
  const parsed = parseArgs(
    [
      '--rm',
      '-it',
      '-e',
      'A=B',
      '-eC=D',
      '--name',
      'n',
      '-w/tmp',
      '-u',
      '1:2',
      '--network=none',
      '--entrypoint',
      '',
      'busybox',
      'sh',
      '-c',
      'echo -e',
    ],
    RUN_FLAGS,
    { interspersed: false },
  );
  t.deepEqual(parsed.args, ['busybox', 'sh', '-c', 'echo -e']);
  t.deepEqual(parsed.flags, {
    rm: true,
    interactive: true,
    tty: true,
    env: ['A=B', 'C=D'],
    name: 'n',
    workdir: '/tmp',
    user: '1:2',
    network: 'none',
    entrypoint: '',
  });
});

test('errors use pflag wording', (t) => {
  const cases: [string[], string][] = [
    [['--bogus'], 'unknown flag: --bogus'],
    [['-e'], "unknown shorthand flag: 'e' in -e"],
    [['-ax'], "unknown shorthand flag: 'x' in -ax"],
    [['-f'], "flag needs an argument: 'f' in -f"],
    [['--filter'], 'flag needs an argument: --filter'],
    [['--all=maybe'], 'invalid argument "maybe" for "--all" flag: strconv.ParseBool: parsing "maybe": invalid syntax'],
  ];
  for (const [argv, message] of cases) {
    const err = t.throws(() => parseArgs(argv, PS, { interspersed: true }), { instanceOf: UsageError, message });
    t.is(err?.kind, 'flag');
  }
});
