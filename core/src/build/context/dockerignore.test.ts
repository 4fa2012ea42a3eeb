import test from 'ava';
import { InvalidParameterError } from '../../plugin-api/errors.js';
import { parseDockerignore, PatternMatcher } from './dockerignore.js';
import { containsWildcards, goMatch, splitPattern } from './go-match.js';

test('parseDockerignore: comments, blanks, BOM, cleaning, leading slash, exceptions', (t) => {
  const text = '\uFEFF# comment\n\n  node_modules/  \n/abs/path\n!  /keep/me\r\n./a/../b\n #not a comment\n';
  t.deepEqual(parseDockerignore(text), ['node_modules', 'abs/path', '!keep/me', 'b', '#not a comment']);
});

test('PatternMatcher: plain names and parents', (t) => {
  const m = new PatternMatcher(['node_modules', 'build/out']);
  t.true(m.matches('node_modules'));
  t.true(m.matches('node_modules/x/y.js'), 'a match on a parent directory excludes its contents');
  t.false(m.matches('src/node_modules'), 'patterns are anchored at the context root');
  t.true(m.matches('build/out/a'));
  t.false(m.matches('build/other'));
  t.false(m.matches('.'), 'the context itself is never excluded');
});

test('PatternMatcher: *, ?, ** and character classes', (t) => {
  const m = new PatternMatcher(['*.log', 'tmp?', '**/*.o', 'docs/**', 'x[0-9]']);
  t.true(m.matches('a.log'));
  t.false(m.matches('sub/a.log'), '* does not cross directories');
  t.true(m.matches('tmp1'));
  t.false(m.matches('tmp12'));
  t.true(m.matches('main.o'), '**/ matches zero directories');
  t.true(m.matches('a/b/c/main.o'));
  t.true(m.matches('docs/a/b'));
  t.true(m.matches('x7'));
  t.false(m.matches('xa'));
  const suffix = new PatternMatcher(['**/secret']);
  t.true(suffix.matches('secret'));
  t.true(suffix.matches('deep/er/secret'));
  t.false(suffix.matches('secrets'));
  const mid = new PatternMatcher(['a/**/z']);
  t.true(mid.matches('a/z'));
  t.true(mid.matches('a/b/c/z'));
  t.false(mid.matches('b/z'));
});

test('PatternMatcher: later exceptions re-include, later patterns exclude again', (t) => {
  const m = new PatternMatcher(['*.md', '!README.md', 'README.md']);
  t.true(m.matches('README.md'), 'the last matching pattern wins');
  const m2 = new PatternMatcher(['docs', '!docs/keep.md']);
  t.true(m2.hasExclusions);
  t.false(m2.matches('docs/keep.md'));
  t.true(m2.matches('docs/other.md'));
  t.true(m2.matches('docs'));
  const m3 = new PatternMatcher(['*', '!src']);
  t.false(m3.matches('src'));
  t.false(m3.matches('src/a.ts'));
  t.true(m3.matches('Dockerfile'));
});

test('PatternMatcher: regexp metacharacters are literal, a lone ! is refused', (t) => {
  const m = new PatternMatcher(['a.b', 'c+d', '(e)']);
  t.true(m.matches('a.b'));
  t.false(m.matches('axb'));
  t.true(m.matches('c+d'));
  t.true(m.matches('(e)'));
  t.throws(() => new PatternMatcher(['!']), { instanceOf: InvalidParameterError });
});

test('goMatch follows Go filepath.Match', (t) => {
  t.true(goMatch('*.txt', 'a.txt'));
  t.false(goMatch('*.txt', 'dir/a.txt'));
  t.true(goMatch('a?c', 'abc'));
  t.true(goMatch('[a-c]x', 'bx'));
  t.false(goMatch('[^a-c]x', 'bx'));
  t.true(goMatch('[^a-c]x', 'dx'));
  t.true(goMatch('\\*', '*'));
  t.false(goMatch('\\*', 'a'));
  t.false(goMatch('[', '['), 'a malformed pattern matches nothing');
  t.false(goMatch('[a-]', 'a'));
  t.true(goMatch('[\\]]', ']'));
  t.true(containsWildcards('a*'));
  t.true(containsWildcards('x[1]'));
  t.false(containsWildcards('a\\*b'));
  t.false(containsWildcards('plain/path'));
  t.deepEqual(splitPattern('./a/*/c\\/d/'), ['a', '*', 'c\\/d']);
});
