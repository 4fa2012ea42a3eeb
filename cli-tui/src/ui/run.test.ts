import test from 'ava';
import { colorLevel } from '../commands/ui.js';
import { EndpointError } from '../endpoint.js';
import { parseConfig } from './config.js';
import { resolveTarget } from './run.js';

test('colour level: decided from TERM on a TTY even when CI is set; NO_COLOR and FORCE_COLOR win', (t) => {
  t.is(colorLevel({ TERM: 'xterm-256color', CI: 'true' }), '2');
  t.is(colorLevel({ TERM: 'xterm', COLORTERM: 'truecolor' }), '3');
  t.is(colorLevel({ TERM: 'xterm' }), '1');
  t.is(colorLevel({ TERM: 'dumb' }), '0');
  t.is(colorLevel({ TERM: 'xterm-256color', NO_COLOR: '1' }), '0');
  t.is(colorLevel({ TERM: 'xterm-256color', FORCE_COLOR: '0' }), undefined);
});

test(':host targets: a configured endpoint name, else a host URL; bad ones are EndpointErrors', (t) => {
  const cfg = parseConfig('endpoints:\n  - { name: prod, host: "tcp://10.1.2.3:2376" }\n');
  t.is(resolveTarget('prod', cfg).url, 'tcp://10.1.2.3:2376');
  t.is(resolveTarget('unix:///run/x.sock', cfg).url, 'unix:///run/x.sock');
  t.throws(() => resolveTarget('ftp://nowhere', cfg), { instanceOf: EndpointError, message: /unsupported protocol/ });
});
