import test from 'ava';
import { InvalidParameterError, SystemError } from '../plugin-api/errors.js';
import { parsePsOutput, validatePsArgs } from './top.js';

const PS_EF = `UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 05:00 ?        00:00:01 /sbin/init
root         200       1  0 05:01 ?        00:00:00 sh -c sleep 600 & sleep 700
root         201     200  0 05:01 ?        00:00:00 sleep   600
root         300       1  0 05:02 ?        00:00:00 other
`;

test('keeps the container processes; the last column takes the overhang', (t) => {
  const r = parsePsOutput(PS_EF, [200, 201]);
  t.deepEqual(r.Titles, ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD']);
  t.deepEqual(r.Processes, [
    ['root', '200', '1', '0', '05:01', '?', '00:00:00', 'sh -c sleep 600 & sleep 700'],
    ['root', '201', '200', '0', '05:01', '?', '00:00:00', 'sleep 600'],
  ]);
});

test('thread lines (PID -) follow their process', (t) => {
  const out = `USER PID TID CMD\nroot 10 - app\nroot - 10 -\nroot - 11 -\nroot 12 - other\nroot - 12 -\n`;
  t.deepEqual(parsePsOutput(out, [10]).Processes, [
    ['root', '10', '-', 'app'],
    ['root', '-', '10', '-'],
    ['root', '-', '11', '-'],
  ]);
});

test('no PID column, or a bad pid, is a system error', (t) => {
  t.throws(() => parsePsOutput('USER CMD\nroot x\n', [1]), { instanceOf: SystemError });
  t.throws(() => parsePsOutput('PID CMD\nabc x\n', [1]), { instanceOf: SystemError, message: "Unexpected pid 'abc'" });
});

test('ps arguments may not rename another column to PID', (t) => {
  t.notThrows(() => validatePsArgs('-ef'));
  t.notThrows(() => validatePsArgs('-o pid=PID,comm'));
  t.throws(() => validatePsArgs('-o user=PID'), {
    instanceOf: InvalidParameterError,
    message: 'specifying "user=PID" is not allowed',
  });
});
