import { runtimeSuite } from '@skiff/core/testkit';
import test from 'ava';
import { runtimeHostProblem } from './host-support.js';
import { LinuxRuntime } from './linux-runtime.js';
import { findExecutable } from './which.js';

runtimeSuite(test, 'runc', async (stateDir) => new LinuxRuntime({ binary: 'runc', stateDir }));

/** crun runs only where it can: installed, and on a cgroup layout it accepts. */
function crunSkipReason(): string | undefined {
  const crun = findExecutable('crun');
  if (!crun) return 'crun is not installed (Debian package crun)';
  const problem = runtimeHostProblem(crun);
  return problem;
}

const skip = crunSkipReason();
if (skip) console.log(`crun conformance skipped: ${skip}`);
runtimeSuite(test, 'crun', async (stateDir) => new LinuxRuntime({ binary: 'crun', stateDir }), {
  skip,
});
