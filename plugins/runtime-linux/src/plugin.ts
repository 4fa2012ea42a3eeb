import { definePlugin, SystemError } from '@skiff/core/plugin-api';
import { runtimeHostProblem } from './host-support.js';
import { CONMON_DIRS, LinuxRuntime } from './linux-runtime.js';
import { findExecutable } from './which.js';

export { OciRuntimeError, RuntimeCreateError, RuntimeExecError } from './errors.js';
export { type CgroupLayout, cgroupLayout, runtimeHostProblem, runtimeVersion } from './host-support.js';
export { LinuxRuntime, type LinuxRuntimeOptions } from './linux-runtime.js';

function stringList(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : undefined;
}

export default definePlugin({
  apiVersion: 1,
  kind: 'runtime',
  name: 'linux',
  register(r) {
    if (process.platform !== 'linux') r.skip('OCI runtimes under conmon need Linux');
    const conmonSetting = typeof r.settings.conmon === 'string' ? r.settings.conmon : undefined;
    const conmon = findExecutable(conmonSetting ?? 'conmon', CONMON_DIRS);
    if (!conmon)
      r.skip(`conmon not found${conmonSetting ? ` at ${conmonSetting}` : ' in PATH'} (Debian package conmon)`);
    if (!findExecutable('runc') && !findExecutable('crun')) r.skip('no OCI runtime (runc or crun) found in PATH');
    r.provide((opts) => {
      const binary = typeof opts.path === 'string' && opts.path !== '' ? opts.path : 'runc';
      const found = findExecutable(binary);
      if (!found) throw new SystemError(`OCI runtime ${binary} not found${binary.includes('/') ? '' : ' in PATH'}`);
      const problem = runtimeHostProblem(found);
      if (problem) throw new SystemError(problem);
      return new LinuxRuntime({
        binary,
        runtimeArgs: stringList(opts.runtimeArgs) ?? [],
        stateDir: r.paths.state,
        conmon,
        log: r.log,
      });
    });
  },
});
