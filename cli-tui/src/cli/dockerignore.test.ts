import test from 'ava';
import { IgnoreMatcher, IgnorePatternError, parseDockerignore } from './dockerignore.js';

test('parsing: comments, blanks, "!" exceptions, cleaned paths', (t) => {
  t.deepEqual(parseDockerignore('# c\n\n  node_modules \n!keep.txt\n/abs/./x/../y\n!\n./\n'), [
    'node_modules',
    '!keep.txt',
    'abs/y',
    '.',
  ]);
});

test('matching like moby: globs, **, parents, last match wins', (t) => {
  const m = new IgnoreMatcher(parseDockerignore('*.log\n!important.log\nbuild\n**/tmp\ndocs/**/*.md\n?.txt\n[ab].c\n'));
  const excluded = [
    'x.log',
    'build',
    'build/out/a.o',
    'tmp',
    'a/b/tmp',
    'a/tmp/f',
    'docs/x.md',
    'docs/a/b/y.md',
    'a.txt',
    'a.c',
  ];
  const kept = ['important.log', 'sub/x.log', 'src/main.ts', 'docs/readme.txt', 'ab.txt', 'c.c', 'builder'];
  for (const p of excluded) t.true(m.excludes(p), p);
  for (const p of kept) t.false(m.excludes(p), p);
  t.true(m.hasExceptions);
  t.false(new IgnoreMatcher(['a']).hasExceptions);
});

test('bad patterns are refused with the pattern named', (t) => {
  t.throws(() => new IgnoreMatcher(['[abc']), { instanceOf: IgnorePatternError, message: /"\[abc"/ });
  t.throws(() => new IgnoreMatcher(['a\\']), { instanceOf: IgnorePatternError });
});
