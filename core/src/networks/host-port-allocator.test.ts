import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ephemeralRange, HostPortAllocator } from './host-port-allocator.js';

const always = async () => true;

test('counts up per protocol from the start of the range, skips held ports, does not hand a freed one out at once', async (t) => {
  const a = new HostPortAllocator({ low: 100, high: 104 });
  t.is(await a.allocate('tcp', new Set(), always), 100);
  a.settle([{ protocol: 'tcp', hostPort: 100 }]);
  t.is(await a.allocate('udp', new Set(), always), 100, 'each protocol counts on its own');
  // 100 was freed (no longer held): the next one is still 101, as dockerd's allocator does it.
  t.is(await a.allocate('tcp', new Set(), always), 101);
  t.is(await a.allocate('tcp', new Set([102, 103]), always), 104, 'held by a publication');
  t.is(await a.allocate('tcp', new Set([101]), always), 100, 'wraps at the end of the range');
});

test('a port something else has bound is passed over; none left is undefined', async (t) => {
  const a = new HostPortAllocator({ low: 200, high: 202 });
  t.is(await a.allocate('tcp', new Set(), async (p) => p !== 200), 201);
  t.is(await a.allocate('tcp', new Set([200]), async (p) => p !== 202), undefined, 'pending, held or bound');
});

test('concurrent allocations get different ports until they are settled', async (t) => {
  const a = new HostPortAllocator({ low: 300, high: 310 });
  const slow = (p: number) => new Promise<boolean>((r) => setTimeout(() => r(p >= 300), 10));
  const got = await Promise.all([0, 1, 2].map(() => a.allocate('tcp', new Set(), slow)));
  t.deepEqual(got, [300, 301, 302]);
  // Settled (recorded with their endpoints, or never used): a later pass may take them again.
  a.settle(got.map((hostPort) => ({ protocol: 'tcp', hostPort: hostPort! })));
  const b = new HostPortAllocator({ low: 300, high: 300 });
  t.is(await b.allocate('tcp', new Set(), always), 300);
  t.is(await b.allocate('tcp', new Set(), always), undefined, 'still pending');
  b.settle([{ protocol: 'tcp', hostPort: 300 }]);
  t.is(await b.allocate('tcp', new Set(), always), 300);
});

test("the range is the kernel's ip_local_port_range; dockerd's 49153-65535 where it cannot be read", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-range-'));
  const file = join(dir, 'ip_local_port_range');
  await writeFile(file, '32768\t60999\n');
  t.deepEqual(ephemeralRange(file), { low: 32768, high: 60999 });
  await writeFile(file, 'garbage\n');
  t.deepEqual(ephemeralRange(file), { low: 49153, high: 65535 });
  t.deepEqual(ephemeralRange(join(dir, 'missing')), { low: 49153, high: 65535 });
});
