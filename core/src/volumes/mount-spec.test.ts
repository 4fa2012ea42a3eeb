import test from 'ava';
import { InvalidParameterError } from '../plugin-api/errors.js';
import { parseBind, parseMount, parseVolumesFrom } from './mount-spec.js';

test('-v forms: named volumes, binds, modes', (t) => {
  t.like(parseBind('data:/d'), {
    Type: 'volume',
    Name: 'data',
    Destination: '/d',
    Mode: 'z',
    RW: true,
    CopyData: true,
  });
  t.like(parseBind('data:/d:ro,nocopy'), { Type: 'volume', RW: false, CopyData: false, Mode: 'ro,nocopy' });
  t.like(parseBind('/host/dir/:/d/:ro'), {
    Type: 'bind',
    Source: '/host/dir',
    Destination: '/d',
    Mode: 'ro',
    RW: false,
    Propagation: 'rprivate',
    CreateSource: true,
  });
  t.like(parseBind('/h:/d:rshared'), { Propagation: 'rshared', RW: true });
});

test('-v bad input', (t) => {
  for (const bad of [
    'x',
    ':/d',
    'v:d',
    'v:/d:bogus',
    'v:/d:ro,rw',
    '/h:/d:nocopy',
    'v:/d:rshared',
    'v:/',
    'v:/a/../b',
    'a:b:c:d',
  ]) {
    t.throws(() => parseBind(bad), { instanceOf: InvalidParameterError }, bad);
  }
});

test('--mount forms and bad input', (t) => {
  t.like(
    parseMount({ Type: 'bind', Source: '/h', Target: '/d', ReadOnly: true, BindOptions: { Propagation: 'rslave' } }),
    {
      Type: 'bind',
      RW: false,
      Propagation: 'rslave',
      CreateSource: false,
    },
  );
  t.like(parseMount({ Type: 'volume', Target: '/d', VolumeOptions: { NoCopy: true, Labels: { a: 'b' } } }), {
    Type: 'volume',
    Name: '',
    Anonymous: true,
    CopyData: false,
    Labels: { a: 'b' },
  });
  t.like(parseMount({ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1048576, Mode: 0o1777 } }), {
    Type: 'tmpfs',
    TmpfsData: 'size=1048576,mode=1777',
  });
  for (const bad of [
    null,
    { Type: 'npipe', Target: '/d' },
    { Type: 'bind', Target: '/d' },
    { Type: 'bind', Source: 'rel', Target: '/d' },
    { Type: 'bind', Source: '/h', Target: '' },
    { Type: 'bind', Source: '/h', Target: '/d', BindOptions: { Propagation: 'weird' } },
    { Type: 'volume', Source: '/abs', Target: '/d' },
    { Type: 'tmpfs', Source: 'x', Target: '/t' },
    { Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: -1 } },
    { Type: 'volume', Target: '/d', BindOptions: {} },
    { Type: 'volume', Target: '/../../etc' },
  ]) {
    t.throws(() => parseMount(bad), { instanceOf: InvalidParameterError }, JSON.stringify(bad));
  }
});

test('--volumes-from', (t) => {
  t.deepEqual(parseVolumesFrom('c1'), { ref: 'c1', mode: undefined });
  t.deepEqual(parseVolumesFrom('c1:ro'), { ref: 'c1', mode: 'ro' });
  for (const bad of ['', 'c1:bogus', 'c1:ro:x', ':ro', 5]) t.throws(() => parseVolumesFrom(bad));
});
