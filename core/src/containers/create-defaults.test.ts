import test from 'ava';
import type { HostConfig } from './container-types.js';
import { mergeEnv, mergeSet, settleHostConfig } from './create-defaults.js';
import { detectHostFacts, MASKED_PATHS, READONLY_PATHS } from './oci-spec.js';

test('mergeEnv: the request first, then what the image sets and the request does not', (t) => {
  t.deepEqual(mergeEnv(['PATH=/bin', 'A=image'], ['FOO=bar', 'A=req']), ['FOO=bar', 'A=req', 'PATH=/bin']);
  t.deepEqual(mergeEnv(['PATH=/bin'], []), ['PATH=/bin']);
  t.deepEqual(mergeEnv([], ['EMPTY=']), ['EMPTY=']);
});

test('mergeSet: both sets, null when neither has an entry', (t) => {
  t.is(mergeSet({}, undefined), null);
  t.is(mergeSet(null, {}), null);
  t.deepEqual(mergeSet({}, { '/data': {} }), { '/data': {} });
  t.deepEqual(mergeSet({ '80/tcp': {} }, { '443/tcp': {} }), { '443/tcp': {}, '80/tcp': {} });
});

const base = (extra: Record<string, unknown> = {}): HostConfig => ({
  NetworkMode: 'none',
  AutoRemove: false,
  Binds: null,
  Privileged: false,
  ReadonlyRootfs: false,
  CapAdd: null,
  CapDrop: null,
  RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
  LogConfig: { Type: 'json-file', Config: {} },
  ...extra,
});

test('settleHostConfig: the defaults dockerd records, empty omitempty fields dropped', (t) => {
  const hc = base({ Init: null, Sysctls: {}, Tmpfs: {}, SecurityOpt: [], MemorySwappiness: -1, CgroupnsMode: '' });
  settleHostConfig(hc, 'runc');
  t.is(hc.Runtime, 'runc');
  t.is(hc.CgroupnsMode, detectHostFacts().cgroupV2 ? 'private' : 'host');
  t.is(hc.MemorySwappiness, null);
  t.is(hc.SecurityOpt, null);
  for (const k of ['Init', 'Sysctls', 'Tmpfs']) t.false(k in hc, k);
  t.deepEqual(hc.MaskedPaths, [...MASKED_PATHS, ...detectHostFacts().thermalThrottlePaths]);
  t.deepEqual(hc.ReadonlyPaths, READONLY_PATHS);
});

test('settleHostConfig keeps what the request set', (t) => {
  const hc = base({
    Init: true,
    Tmpfs: { '/run': '' },
    SecurityOpt: ['no-new-privileges'],
    MemorySwappiness: 10,
    CgroupnsMode: 'private',
  });
  settleHostConfig(hc, 'crun');
  t.like(hc, {
    Runtime: 'crun',
    Init: true,
    Tmpfs: { '/run': '' },
    SecurityOpt: ['no-new-privileges'],
    MemorySwappiness: 10,
    CgroupnsMode: 'private',
  });
});

test('settleHostConfig: label=disable for what shares the host pid or ipc namespace, unless a label is set', (t) => {
  for (const extra of [
    { Privileged: true },
    { PidMode: 'host' },
    { IpcMode: 'host', SecurityOpt: ['no-new-privileges'] },
  ]) {
    const hc = base(extra);
    settleHostConfig(hc, 'runc');
    t.deepEqual(hc.SecurityOpt, [...((extra as { SecurityOpt?: string[] }).SecurityOpt ?? []), 'label=disable']);
  }
  const own = base({ Privileged: true, SecurityOpt: ['label=disable'] });
  settleHostConfig(own, 'runc');
  t.deepEqual(own.SecurityOpt, ['label=disable']);
});

test('settleHostConfig: no default masked or read-only paths when privileged or systempaths=unconfined', (t) => {
  for (const hc of [base({ Privileged: true }), base({ SecurityOpt: ['systempaths=unconfined'] })]) {
    settleHostConfig(hc, 'runc');
    t.false('MaskedPaths' in hc);
    t.false('ReadonlyPaths' in hc);
  }
});
