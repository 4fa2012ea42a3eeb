import test from 'ava';
import { ConflictError, InvalidParameterError, NotFoundError } from '../plugin-api/errors.js';
import type { ContainerRecord } from './container-types.js';
import { namespaceDonorRef, resolveNamespaceDonors, sharedNamespacePaths } from './shared-namespaces.js';

function record(id: string, name: string, state: Partial<ContainerRecord['State']>, hc: Record<string, unknown> = {}) {
  return {
    Id: id,
    Name: `/${name}`,
    State: { Running: false, Restarting: false, Pid: 0, ...state },
    HostConfig: { IpcMode: 'private', ...hc },
  } as unknown as ContainerRecord;
}

const donorId = 'a'.repeat(64);
const running = record(donorId, 'donor', { Running: true, Pid: 4242 }, { IpcMode: 'shareable' });

function lookupOf(...cs: ContainerRecord[]) {
  return (ref: string) => {
    const c = cs.find((x) => x.Id === ref || x.Name === `/${ref}` || x.Id.startsWith(ref));
    if (!c) throw new NotFoundError(`No such container: ${ref}`);
    return c;
  };
}

test('namespaceDonorRef', (t) => {
  t.is(namespaceDonorRef('container:web'), 'web');
  t.is(namespaceDonorRef('host'), undefined);
  t.is(namespaceDonorRef(undefined), undefined);
});

test('at create, donors are resolved to full IDs; a missing one is a 400 No such container', (t) => {
  const hc: Record<string, unknown> = { PidMode: 'container:donor', IpcMode: 'container:aaaa' };
  resolveNamespaceDonors(hc, lookupOf(running));
  t.deepEqual(hc, { PidMode: `container:${donorId}`, IpcMode: `container:${donorId}` });
  const other = { PidMode: 'host', IpcMode: 'shareable' };
  resolveNamespaceDonors(other, lookupOf());
  t.deepEqual(other, { PidMode: 'host', IpcMode: 'shareable' });
  t.throws(() => resolveNamespaceDonors({ PidMode: 'container:nosuch' }, lookupOf(running)), {
    instanceOf: InvalidParameterError,
    message: 'No such container: nosuch',
  });
});

test('at start: the donors task namespaces; not running is a conflict, as dockerd says it', (t) => {
  const me = record('b'.repeat(64), 'me', {}, { PidMode: `container:${donorId}`, IpcMode: `container:${donorId}` });
  t.deepEqual(sharedNamespacePaths(me, lookupOf(running, me)), {
    pidNamespacePath: '/proc/4242/ns/pid',
    ipcNamespacePath: '/proc/4242/ns/ipc',
    ipcDonor: running,
  });
  const stopped = record(donorId, 'donor', { Running: false }, { IpcMode: 'shareable' });
  t.throws(() => sharedNamespacePaths(me, lookupOf(stopped, me)), {
    instanceOf: ConflictError,
    message: `container ${donorId} is not running`,
  });
  const ipcOnly = record('c'.repeat(64), 'ipc', {}, { IpcMode: `container:${donorId}` });
  t.throws(() => sharedNamespacePaths(ipcOnly, lookupOf(stopped, ipcOnly)), {
    instanceOf: ConflictError,
    message: `can't join IPC of container ${donorId}: container ${donorId} is not running`,
  });
  const privateDonor = record(donorId, 'donor', { Running: true, Pid: 7 }, { IpcMode: 'private' });
  t.throws(() => sharedNamespacePaths(ipcOnly, lookupOf(privateDonor, ipcOnly)), {
    instanceOf: InvalidParameterError,
    message: `can't join IPC of container ${donorId}: non-shareable IPC (hint: use IpcMode:shareable for the donor container)`,
  });
  t.throws(() => sharedNamespacePaths(me, lookupOf(me)), { message: `No such container: ${donorId}` });
  t.deepEqual(sharedNamespacePaths(record('d'.repeat(64), 'plain', {}), lookupOf()), {});
});
