import test from 'ava';
import { InvalidParameterError } from '../plugin-api/errors.js';
import { imageHealthcheck, mergeHealthcheck, parseHealthcheck, parseRestartPolicy } from './policy-config.js';

test('restart policies: defaults, on-failure counts, moby messages', (t) => {
  t.deepEqual(parseRestartPolicy(undefined), { Name: 'no', MaximumRetryCount: 0 });
  t.deepEqual(parseRestartPolicy({ Name: '' }), { Name: 'no', MaximumRetryCount: 0 });
  t.deepEqual(parseRestartPolicy({ Name: 'on-failure', MaximumRetryCount: 2 }), {
    Name: 'on-failure',
    MaximumRetryCount: 2,
  });
  t.deepEqual(parseRestartPolicy({ Name: 'unless-stopped' }), { Name: 'unless-stopped', MaximumRetryCount: 0 });
  // Clients before API v25 sent an empty name with any count.
  t.deepEqual(parseRestartPolicy({ Name: '', MaximumRetryCount: 5 }), { Name: 'no', MaximumRetryCount: 0 });
  const bad: Array<[unknown, string]> = [
    [
      { Name: 'bogus' },
      "invalid restart policy: unknown policy 'bogus'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'",
    ],
    [
      { Name: 'always', MaximumRetryCount: 3 },
      "invalid restart policy: maximum retry count can only be used with 'on-failure'",
    ],
    [
      { Name: 'no', MaximumRetryCount: -1 },
      "invalid restart policy: maximum retry count can only be used with 'on-failure' and cannot be negative",
    ],
    [{ Name: 'on-failure', MaximumRetryCount: -1 }, 'invalid restart policy: maximum retry count cannot be negative'],
    [{ Name: 'on-failure', MaximumRetryCount: 1.5 }, 'HostConfig.RestartPolicy.MaximumRetryCount must be an integer'],
    [{ Name: 7 }, 'HostConfig.RestartPolicy.Name must be a string'],
    ['always', 'HostConfig.RestartPolicy must be an object'],
  ];
  for (const [input, message] of bad) {
    t.throws(() => parseRestartPolicy(input), { instanceOf: InvalidParameterError, message }, JSON.stringify(input));
  }
});

test('healthchecks: parsed, validated like moby, zero fields dropped', (t) => {
  t.is(parseHealthcheck(undefined), undefined);
  t.deepEqual(parseHealthcheck({ Test: ['CMD-SHELL', 'true'], Interval: 1e9, Timeout: 0, Retries: 0 }), {
    Test: ['CMD-SHELL', 'true'],
    Interval: 1e9,
  });
  t.deepEqual(parseHealthcheck({ Test: ['NONE'] }), { Test: ['NONE'] });
  t.throws(() => parseHealthcheck({ Test: ['CMD', 'x'], Timeout: 999_999 }), {
    message: 'Timeout in Healthcheck cannot be less than 1ms',
  });
  t.throws(() => parseHealthcheck({ Test: ['CMD', 'x'], StartPeriod: 'soon' }), {
    message: 'Healthcheck.StartPeriod must be an integer',
  });
  t.throws(() => parseHealthcheck({ Retries: -2 }), { message: 'Retries in Healthcheck cannot be negative' });
  t.throws(() => parseHealthcheck([]), { instanceOf: InvalidParameterError });
  t.is(imageHealthcheck({ Test: 'garbage' }), undefined);
});

test("the request's healthcheck fields override the image's", (t) => {
  const image = { Test: ['CMD', 'check'], Interval: 5e9, Retries: 4 };
  t.deepEqual(mergeHealthcheck(undefined, image), image);
  t.deepEqual(mergeHealthcheck({ Test: [], Interval: 1e9 }, image), {
    Test: ['CMD', 'check'],
    Interval: 1e9,
    Retries: 4,
  });
  t.deepEqual(mergeHealthcheck({ Test: ['NONE'] }, image), { Test: ['NONE'], Interval: 5e9, Retries: 4 });
  t.is(mergeHealthcheck(undefined, undefined), undefined);
});
