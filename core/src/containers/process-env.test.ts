import test from 'ava';
import { DEFAULT_PATH_ENV, processEnv, replaceOrAppendEnv } from './process-env.js';

test('processEnv: PATH, HOSTNAME and TERM (with a terminal) as dockerd sets them, the container Env over them', (t) => {
  t.deepEqual(processEnv({ Hostname: 'hh', Env: ['FOO=1'] }, false), [DEFAULT_PATH_ENV, 'HOSTNAME=hh', 'FOO=1']);
  t.deepEqual(processEnv({ Hostname: 'hh', Env: ['PATH=/x:/bin', 'TERM=vt100'] }, true), [
    'PATH=/x:/bin',
    'HOSTNAME=hh',
    'TERM=vt100',
  ]);
  t.deepEqual(processEnv({ Hostname: 'hh', Env: null }, true), [DEFAULT_PATH_ENV, 'HOSTNAME=hh', 'TERM=xterm']);
});

test('replaceOrAppendEnv: replaces by key, appends new keys, a bare key unsets', (t) => {
  t.deepEqual(replaceOrAppendEnv(['A=1', 'B=2', 'C=3'], ['B=x', 'D=4', 'C', 'A=y=z']), ['A=y=z', 'B=x', 'D=4']);
  // Keys appended from the overrides are not deduplicated (dockerd's behaviour).
  t.deepEqual(replaceOrAppendEnv([], ['X=1', 'X=2']), ['X=1', 'X=2']);
});
