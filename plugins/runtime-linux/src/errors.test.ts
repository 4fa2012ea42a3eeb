import test from 'ava';
import { asRuncWording, RuntimeCreateError, RuntimeExecError } from './errors.js';

test('crun’s words for a process that cannot start are put as runc’s, which the docker CLI reads', (t) => {
  t.is(
    asRuncWording('executable file `nope` not found in $PATH: No such file or directory'),
    'exec: "nope": executable file not found in $PATH',
  );
  t.is(
    asRuncWording('executable file `/no/x` not found in $PATH: No such file or directory'),
    'exec: "/no/x": stat /no/x: no such file or directory',
  );
  t.is(asRuncWording('open executable: Permission denied', '/etc/passwd'), 'exec: "/etc/passwd": permission denied');
  t.is(asRuncWording('open executable: Operation not permitted', '/adir'), 'exec: "/adir": permission denied');
  t.is(asRuncWording('something else entirely'), 'something else entirely');
});

test('the errors carry runc’s words and the exit code the docker CLI gives them', (t) => {
  const missing = new RuntimeCreateError('executable file `nope` not found in $PATH: No such file or directory');
  t.is(missing.message, 'OCI runtime create failed: exec: "nope": executable file not found in $PATH');
  t.is(missing.exitCodeHint, 127);
  const denied = new RuntimeExecError('open executable: Permission denied', { argv0: '/etc/passwd' });
  t.is(denied.message, 'OCI runtime exec failed: exec: "/etc/passwd": permission denied');
  t.is(denied.exitCodeHint, 126);
});
