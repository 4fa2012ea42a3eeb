import test from 'ava';
import { NotFoundError, UpstreamError } from '../plugin-api/errors.js';
import {
  networkErrorMessage,
  parseRegistryErrors,
  RegistryUnavailableError,
  redactUrl,
  translateRegistryError,
} from './registry-errors.js';

const target = { familiarName: 'someone/app', familiarString: 'someone/app:v1', what: 'manifest' as const };
const body = (code: string, message: string) => JSON.stringify({ errors: [{ code, message }] });

test('registry error codes become dockerd messages', (t) => {
  const m = translateRegistryError(404, body('MANIFEST_UNKNOWN', 'manifest unknown'), target);
  t.true(m instanceof NotFoundError);
  t.is(m.message, 'manifest for someone/app:v1 not found: manifest unknown: manifest unknown');
  const d = translateRegistryError(401, body('DENIED', 'requested access to the resource is denied'), target);
  t.true(d instanceof NotFoundError);
  t.is(
    d.message,
    "pull access denied for someone/app, repository does not exist or may require 'docker login': requested access to the resource is denied",
  );
  t.is(
    translateRegistryError(404, body('NAME_UNKNOWN', 'repository name not known to registry'), target).message,
    'repository someone/app not found: name unknown: repository name not known to registry',
  );
  const u = translateRegistryError(401, body('UNAUTHORIZED', 'authentication required'), target);
  t.true(u instanceof UpstreamError);
  t.is(u.message, 'unauthorized: authentication required');
  t.is(translateRegistryError(429, '', target).message, 'toomanyrequests: too many requests');
  t.is(
    translateRegistryError(404, '<html>nope</html>', target).message,
    'manifest for someone/app:v1 not found: manifest unknown: manifest unknown',
  );
  t.true(translateRegistryError(502, '<html>bad gateway</html>', target) instanceof RegistryUnavailableError);
  t.is(translateRegistryError(404, '', { ...target, what: 'blob' }).message, 'blob unknown: blob unknown to registry');
});

test('parseRegistryErrors tolerates junk', (t) => {
  for (const b of ['', 'null', '{"errors":5}', '{"errors":[null,1,{"code":3}]}', '[]'])
    t.deepEqual(parseRegistryErrors(b), [], b);
  t.deepEqual(parseRegistryErrors('{"errors":[{"code":"X"}]}'), [{ code: 'X', message: '' }]);
});

test('network errors read like Go net/http', (t) => {
  const url = 'http://127.0.0.1:5001/v2/';
  t.is(
    networkErrorMessage(
      'GET',
      url,
      Object.assign(new Error('x'), { code: 'ECONNREFUSED', address: '127.0.0.1', port: 5001 }),
      1000,
    ),
    'Get "http://127.0.0.1:5001/v2/": dial tcp 127.0.0.1:5001: connect: connection refused',
  );
  t.is(
    networkErrorMessage(
      'GET',
      'https://reg.example/v2/',
      Object.assign(new Error('x'), { code: 'ENOTFOUND', hostname: 'reg.example' }),
      1000,
    ),
    'Get "https://reg.example/v2/": dial tcp: lookup reg.example: no such host',
  );
  t.is(
    networkErrorMessage(
      'GET',
      'https://127.0.0.1:5000/v2/',
      Object.assign(new Error('x'), { code: 'ERR_SSL_WRONG_VERSION_NUMBER' }),
      1000,
    ),
    'Get "https://127.0.0.1:5000/v2/": http: server gave HTTP response to HTTPS client',
  );
  t.regex(
    networkErrorMessage(
      'GET',
      'https://r/v2/',
      Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }),
      1000,
    ),
    /tls: failed to verify certificate: self-signed certificate/,
  );
  t.regex(
    networkErrorMessage('GET', url, Object.assign(new Error('x'), { code: 'SKIFF_HEADERS_TIMEOUT' }), 1000),
    /timeout awaiting response headers/,
  );
  t.regex(networkErrorMessage('POST', url, new DOMException('aborted', 'TimeoutError'), 1000), /^Post ".*": timeout/);
});

test('URLs in messages lose credentials and query strings', (t) => {
  t.is(redactUrl('https://user:pw@s3.example/blob?X-Amz-Signature=abc'), 'https://s3.example/blob');
  t.is(redactUrl('not a url'), '<invalid URL>');
});
