import test from 'ava';
import { InvalidParameterError } from '../plugin-api/errors.js';
import { parseCreateBody, validateName } from './create-request.js';

test('a CLI-shaped body is accepted with defaults filled in', (t) => {
  const { config, hostConfig } = parseCreateBody({
    Image: '127.0.0.1:5000/busybox',
    Cmd: ['echo', 'hi'],
    Env: null,
    Labels: {},
    AttachStdout: true,
    HostConfig: {
      AutoRemove: true,
      NetworkMode: 'default',
      RestartPolicy: { Name: 'no' },
      LogConfig: { Type: '', Config: {} },
    },
    SomethingNew: 1,
  });
  t.deepEqual(config.Cmd, ['echo', 'hi']);
  t.deepEqual(config.Env, []);
  t.true(config.AttachStdout);
  t.true(hostConfig.AutoRemove);
  t.is(hostConfig.NetworkMode, 'default');
  t.is(hostConfig.LogConfig.Type, 'json-file');
});

test('wrong types and missing image are 400s', (t) => {
  t.throws(() => parseCreateBody(undefined), { instanceOf: InvalidParameterError });
  t.throws(() => parseCreateBody([]), { instanceOf: InvalidParameterError });
  t.throws(() => parseCreateBody({ Cmd: ['x'] }), { instanceOf: InvalidParameterError });
  t.throws(() => parseCreateBody({ Image: 'x', Cmd: [1] }), {
    instanceOf: InvalidParameterError,
    message: /Cmd must be a list of strings/,
  });
  t.throws(() => parseCreateBody({ Image: 'x', Tty: 'yes' }), { instanceOf: InvalidParameterError });
  t.throws(() => parseCreateBody({ Image: 'x', Env: ['=x'] }), { instanceOf: InvalidParameterError });
  t.throws(() => parseCreateBody({ Image: 'x', WorkingDir: 'rel' }), { message: /needs to be an absolute path/ });
  t.throws(() => parseCreateBody({ Image: 'x', HostConfig: { AutoRemove: true, RestartPolicy: { Name: 'always' } } }), {
    message: /AutoRemove/,
  });
  t.throws(() => parseCreateBody({ Image: 'x', HostConfig: 'no' }), { instanceOf: InvalidParameterError });
});

test('container names follow docker rules', (t) => {
  t.is(validateName('web_1'), '/web_1');
  t.is(validateName('/web.2'), '/web.2');
  for (const bad of ['', 'a', '-x', 'has space', 'a/b', '../x']) {
    t.throws(() => validateName(bad), { instanceOf: InvalidParameterError }, bad);
  }
});
