import test from 'ava';
import { ConflictError, InvalidParameterError } from '../plugin-api/errors.js';
import type { HostConfig } from './container-types.js';
import { adaptCreateResources, ociResources, parseCpuList, planUpdate, validateResources } from './resources.js';

const MiB = 1024 * 1024;

function hostConfig(extra: Record<string, unknown> = {}): HostConfig {
  return {
    NetworkMode: 'default',
    AutoRemove: false,
    Binds: null,
    Privileged: false,
    ReadonlyRootfs: false,
    CapAdd: null,
    CapDrop: null,
    RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
    LogConfig: { Type: 'json-file', Config: {} },
    ...extra,
  };
}

test('HostConfig → OCI resources as moby builds them', (t) => {
  t.deepEqual(
    ociResources({
      Memory: 32 * MiB,
      MemorySwap: 64 * MiB,
      MemoryReservation: 16 * MiB,
      MemorySwappiness: -1,
      NanoCpus: 1_500_000_000,
      CpuShares: 512,
      CpusetCpus: '0-1',
      PidsLimit: 50,
      OomKillDisable: false,
    }),
    {
      memory: { limit: 32 * MiB, reservation: 16 * MiB, swap: 64 * MiB },
      cpu: { shares: 512, cpus: '0-1', period: 100_000, quota: 150_000 },
      pids: { limit: 50 },
    },
  );
  t.deepEqual(ociResources({ CpuPeriod: 50_000, CpuQuota: 25_000, PidsLimit: -1, MemorySwap: -1 }), {
    memory: { swap: -1 },
    cpu: { period: 50_000, quota: 25_000 },
    pids: { limit: -1 },
  });
  // The docker CLI's zero values (and nulls) ask for nothing.
  t.deepEqual(ociResources({ Memory: 0, CpuShares: 0, PidsLimit: null, CpusetCpus: '', MemorySwappiness: -1 }), {});
});

test('create: swap defaults to twice the memory; PidsLimit 0 means none', (t) => {
  const hc = hostConfig({ Memory: 8 * MiB, MemorySwap: 0, PidsLimit: 0 });
  adaptCreateResources(hc);
  t.is(hc.MemorySwap, 16 * MiB);
  t.is(hc.PidsLimit, null);
  const explicit = hostConfig({ Memory: 8 * MiB, MemorySwap: -1 });
  adaptCreateResources(explicit);
  t.is(explicit.MemorySwap, -1);
});

test("validation gives dockerd's messages", (t) => {
  const bad = (r: Parameters<typeof validateResources>[0], msg: RegExp, update = false) => {
    const e = t.throws(() => validateResources(r, update), { instanceOf: InvalidParameterError });
    t.regex(e?.message ?? '', msg);
  };
  bad({ Memory: 4 * MiB }, /^Minimum memory limit allowed is 6MB$/);
  bad({ Memory: -1 }, /^Minimum memory limit allowed is 6MB$/);
  bad({ Memory: 32 * MiB, MemorySwap: 16 * MiB }, /^Minimum memoryswap limit should be larger than memory limit/);
  bad({ MemorySwap: 16 * MiB }, /^You should always set the Memory limit when using Memoryswap limit/);
  t.notThrows(() => validateResources({ MemorySwap: 16 * MiB }, true));
  bad({ MemorySwappiness: 101 }, /^Invalid value: 101, valid memory swappiness range is 0-100$/);
  bad({ MemoryReservation: MiB }, /^Minimum memory reservation allowed is 6MB$/);
  bad({ NanoCpus: 1e9, CpuQuota: 50_000 }, /^Conflicting options: Nano CPUs and CPU Quota cannot both be set$/);
  bad({ NanoCpus: -5 }, /^Range of CPUs is from 0\.01 to \d+\.00, as there are only \d+ CPUs available$/);
  bad({ CpuPeriod: 999 }, /^CPU cfs period can not be less than 1ms/);
  bad({ CpuQuota: 10 }, /^CPU cfs quota can not be less than 1ms/);
  bad({ CpusetCpus: '1-' }, /^Invalid value 1- for cpuset cpus: invalid format: 1-$/);
  bad({ CpusetCpus: '100000' }, /^Requested CPUs are not available - requested 100000, available: /);
  bad({ BlkioWeight: 5 }, /^Range of blkio weight is from 10 to 1000$/);
  t.notThrows(() => validateResources({ CpuQuota: -1, PidsLimit: -1, MemorySwap: -1, Memory: 6 * MiB }, false));
});

test('cpuset lists', (t) => {
  t.deepEqual([...parseCpuList('0-2,5')], [0, 1, 2, 5]);
  t.deepEqual([...parseCpuList('')], []);
  for (const bad of ['a', '1,,2', '3-1', '-1', '1-2-3']) t.throws(() => parseCpuList(bad), undefined, bad);
});

test('update merges like dockerd: zero is unchanged, memory goes with the stored swap', (t) => {
  const current = hostConfig({ Memory: 32 * MiB, MemorySwap: 64 * MiB, CpuShares: 512, PidsLimit: 50 });
  const plan = planUpdate('c1', current, { Memory: 48 * MiB, MemorySwap: 0, CpuShares: 0, PidsLimit: null });
  t.like(plan.hostConfig, { Memory: 48 * MiB, MemorySwap: 64 * MiB, CpuShares: 512, PidsLimit: 50 });
  t.deepEqual(plan.resources, { memory: { limit: 48 * MiB, swap: 64 * MiB } });
  t.false(plan.restartChanged);
  t.is(current.Memory, 32 * MiB, 'the stored config is not modified in place');

  const restart = planUpdate('c1', current, { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 } });
  t.deepEqual(restart.hostConfig.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 3 });
  t.deepEqual(restart.resources, {});
  t.true(restart.restartChanged);
});

test('update conflicts (409) and bad bodies (400)', (t) => {
  const withSwap = hostConfig({ Memory: 32 * MiB, MemorySwap: 64 * MiB });
  const e = t.throws(() => planUpdate('c1', withSwap, { Memory: 100 * MiB }), { instanceOf: ConflictError });
  t.is(
    e?.message,
    'Cannot update container c1: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time',
  );
  t.notThrows(() => planUpdate('c1', hostConfig(), { Memory: 100 * MiB }));
  t.throws(() => planUpdate('c1', hostConfig({ CpuPeriod: 50_000 }), { NanoCpus: 1e9 }), {
    instanceOf: ConflictError,
    message: /Nano CPUs cannot be updated as CPU Period has already been set/,
  });
  t.throws(() => planUpdate('c1', hostConfig({ NanoCpus: 1e9 }), { CpuQuota: 50_000 }), {
    instanceOf: ConflictError,
    message: /CPU Quota cannot be updated as NanoCPUs has already been set/,
  });
  t.throws(() => planUpdate('c1', hostConfig({ AutoRemove: true }), { RestartPolicy: { Name: 'always' } }), {
    instanceOf: ConflictError,
    message: /AutoRemove is enabled/,
  });
  for (const body of [
    null,
    [],
    'x',
    { Memory: '1g' },
    { CpusetCpus: 1 },
    { PidsLimit: 1.5 },
    { RestartPolicy: { Name: 'sometimes' } },
  ])
    t.throws(() => planUpdate('c1', hostConfig(), body), { instanceOf: InvalidParameterError }, JSON.stringify(body));
});
