import test from 'ava';
import { parseDockerfile, parseGoDuration, parseLine } from './dockerfile.js';
import { envLookup, processWord, processWords } from './shell-lex.js';

test('logical lines: continuations join, comment and blank lines inside them are dropped', (t) => {
  const df = parseDockerfile(
    ['ARG V=1', 'FROM busybox:${V} AS Base', 'RUN echo a \\', '  # a comment', '', '  && echo b', 'CMD ["sh"]'].join(
      '\n',
    ),
  );
  t.is(df.metaArgs.length, 1);
  t.deepEqual(df.metaArgs[0], { kind: 'ARG', line: 1, original: 'ARG V=1', key: 'V', value: '1' });
  const [stage] = df.stages;
  t.is(stage!.from.image, 'busybox:${V}');
  t.is(stage!.from.stageName, 'base');
  t.deepEqual(stage!.commands[0], {
    kind: 'RUN',
    line: 3,
    original: 'RUN echo a && echo b',
    json: false,
    args: ['echo a && echo b'],
  });
  t.deepEqual(stage!.commands[1], { kind: 'CMD', line: 7, original: 'CMD ["sh"]', json: true, args: ['sh'] });
});

test('no heredocs in the classic builder: the lines after RUN <<EOF are instructions of their own', (t) => {
  t.throws(() => parseDockerfile('FROM x\nRUN <<EOF\necho hi\nEOF\n'), {
    message: 'dockerfile parse error line 3: unknown instruction: ECHO',
  });
  const df = parseDockerfile('FROM x\nRUN a \\\n\n  # c\n  b\nCMD c\n');
  t.like(df.stages[0]!.commands[0], { kind: 'RUN', line: 2, args: ['a b'] });
  t.like(df.stages[0]!.commands[1], { kind: 'CMD', line: 6 });
});

test('escape directive switches the continuation character', (t) => {
  const df = parseDockerfile('# escape=`\nFROM x\nRUN a `\n  b\n');
  t.is(df.escape, '`');
  t.deepEqual((df.stages[0]!.commands[0] as { args: string[] }).args, ['a b']);
});

test('instruction forms: ENV both forms, LABEL quotes, COPY flags and JSON, HEALTHCHECK, ONBUILD', (t) => {
  const df = parseDockerfile(
    [
      'FROM scratch',
      'ENV A=1 B="two words"',
      'ENV C three four',
      'LABEL "a b"="c d" e=f',
      'COPY --from=build --chown=1:2 --chmod=640 a b /dst/',
      'ADD ["x y", "/z"]',
      'HEALTHCHECK --interval=5s --retries=3 CMD true',
      'HEALTHCHECK NONE',
      'ONBUILD RUN echo hi',
      'EXPOSE 80 90/udp',
      'VOLUME ["/data", "/logs"]',
      'SHELL ["/bin/ash", "-c"]',
      'ENTRYPOINT ["/bin/true"]',
      'STOPSIGNAL SIGINT',
      'USER nobody',
      'WORKDIR /w',
      'MAINTAINER me',
    ].join('\n'),
  );
  const c = df.stages[0]!.commands;
  t.deepEqual((c[0] as { pairs: unknown }).pairs, [
    { key: 'A', value: '1' },
    { key: 'B', value: '"two words"' },
  ]);
  t.deepEqual((c[1] as { pairs: unknown }).pairs, [{ key: 'C', value: 'three four' }]);
  t.deepEqual((c[2] as { pairs: unknown }).pairs, [
    { key: '"a b"', value: '"c d"' },
    { key: 'e', value: 'f' },
  ]);
  t.like(c[3], { kind: 'COPY', sources: ['a', 'b'], dest: '/dst/', from: 'build', chown: '1:2', chmod: '640' });
  t.like(c[4], { kind: 'ADD', sources: ['x y'], dest: '/z' });
  t.like(c[5], { kind: 'HEALTHCHECK', test: ['CMD-SHELL', 'true'], interval: 5e9, retries: 3 });
  t.like(c[6], { kind: 'HEALTHCHECK', test: ['NONE'] });
  t.like(c[7], { kind: 'ONBUILD', expression: 'RUN echo hi' });
  t.like(c[8], { kind: 'EXPOSE', values: ['80', '90/udp'] });
  t.like(c[9], { kind: 'VOLUME', values: ['/data', '/logs'] });
  t.like(c[10], { kind: 'SHELL', args: ['/bin/ash', '-c'] });
  t.like(c[11], { kind: 'ENTRYPOINT', json: true, args: ['/bin/true'] });
  t.like(c[12], { kind: 'STOPSIGNAL', value: 'SIGINT' });
  t.like(c[13], { kind: 'USER', value: 'nobody' });
  t.like(c[14], { kind: 'WORKDIR', value: '/w' });
  t.like(c[15], { kind: 'MAINTAINER', value: 'me' });
});

test('bad Dockerfiles get dockerd messages with line numbers', (t) => {
  const err = (text: string) => t.throws(() => parseDockerfile(text))?.message;
  t.is(err('FROM x\nBOGUS thing'), 'dockerfile parse error line 2: unknown instruction: BOGUS');
  t.is(err('FROM a b'), 'dockerfile parse error line 1: FROM requires either one or three arguments');
  t.is(
    err('FROM x AS 1st'),
    `dockerfile parse error line 1: invalid name for build stage: "1st", name can't start with a number or contain symbols`,
  );
  t.is(
    err('FROM x\nCOPY a'),
    'dockerfile parse error line 2: COPY requires at least two arguments, but only one was provided. Destination could not be determined.',
  );
  t.is(err('FROM x\nENV A'), 'dockerfile parse error line 2: ENV must have two arguments');
  t.is(
    err('FROM x\nENV A=1 B'),
    `dockerfile parse error line 2: Syntax error - can't find = in "B". Must be of the form: name=value`,
  );
  t.is(err('FROM x\nRUN --mount=type=cache echo'), 'dockerfile parse error line 2: Unknown flag: mount');
  t.is(err('FROM x\nSHELL sh -c'), 'dockerfile parse error line 2: SHELL requires the arguments to be in JSON form');
  t.is(
    err('FROM x\nONBUILD ONBUILD RUN x'),
    "dockerfile parse error line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
  );
  t.is(
    err('FROM x\nHEALTHCHECK --interval=1us CMD x'),
    'dockerfile parse error line 2: Interval "interval" cannot be less than 1ms',
  );
  t.is(err('FROM x\nWORKDIR'), 'dockerfile parse error line 2: WORKDIR requires exactly one argument');
  t.is(
    err('FROM x\nRUN ["a", 1]'),
    'dockerfile parse error line 2: when using JSON array syntax, arrays must be comprised of strings only',
  );
  t.is(err('RUN x'), 'no build stage in current context');
  t.is(err(''), 'dockerfile contains no stages to build');
  t.is(err('# just a comment\n'), 'dockerfile contains no stages to build');
});

test('shell-form RUN keeps the line as written; ONBUILD triggers parse alone', (t) => {
  t.like(parseLine('RUN echo "$HOME" > /x', 3), { kind: 'RUN', json: false, args: ['echo "$HOME" > /x'] });
  t.like(parseLine('RUN [ "not", json', 3), { kind: 'RUN', json: false });
});

test('variable substitution follows Docker rules', (t) => {
  const env = envLookup(['A=1', 'EMPTY=', 'SP=a b'], ['A=ignored', 'B=2']);
  t.is(processWord('$A-${B}', env), '1-2');
  t.is(processWord('${UNSET:-dflt} ${A:-dflt} ${EMPTY:-e}', env), 'dflt 1 e');
  t.is(processWord('${A:+set} ${UNSET:+set}.', env), 'set .');
  t.is(processWord('\'$A\' "$A" \\$A', env), '$A 1 $A');
  t.is(processWord('"${SP}"', env), 'a b');
  t.is(processWord('cost $5 $', env), 'cost $5 $');
  t.is(processWord('a\\ b', env), 'a b');
  t.is(processWord('`$A', env, '`'), '$A');
  t.deepEqual(processWords('80 "8 0" $SP', env), ['80', '8 0', 'a', 'b']);
  t.throws(() => processWord('"open', env), { message: /matching double-quote/ });
  t.throws(() => processWord("'open", env), { message: /matching single-quote/ });
  t.throws(() => processWord('${A:?x}', env), { message: 'unsupported modifier (?) in substitution' });
  t.throws(() => processWord('${A', env), { message: /missing/ });
});

test('Go durations', (t) => {
  t.is(parseGoDuration('1m30s'), 90e9);
  t.is(parseGoDuration('1.5s'), 1.5e9);
  t.is(parseGoDuration('250ms'), 250e6);
  t.throws(() => parseGoDuration('5'), { message: 'time: invalid duration "5"' });
  t.throws(() => parseGoDuration('5 s'));
});
