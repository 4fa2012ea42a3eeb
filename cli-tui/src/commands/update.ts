// skiff update: change a container's resource limits or restart policy.

import { StatusError, UsageError } from '../cli/errors.js';
import { containerPath, forEachContainer, intFlag } from './container-ops.js';
import type { Command } from './types.js';

const SIZE_RE = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/;
const BINARY: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** go-units RAMInBytes: "64m" → 67108864 (binary multiples). */
export function ramInBytes(text: string): number {
  const m = SIZE_RE.exec(text);
  if (!m) {
    const suffix = /^\d+(?:\.\d+)*\s?(.*)$/.exec(text);
    if (suffix?.[1]) throw new Error(`invalid suffix: '${suffix[1]}'`);
    throw new Error(`invalid size: '${text}'`);
  }
  const unit = m[2] ? (BINARY[m[2].toLowerCase()] as number) : 1;
  return Math.trunc(Number(m[1]) * unit);
}

function bytesFlag(value: unknown, flag: string, allowMinusOne = false): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  if (allowMinusOne && text === '-1') return -1;
  try {
    return ramInBytes(text);
  } catch (err) {
    throw new UsageError(`invalid argument "${text}" for "${flag}" flag: ${(err as Error).message}`, 'flag');
  }
}

/** opts.NanoCPUs: a decimal number of CPUs, as nanoCPUs. */
function nanoCpus(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  if (!/^(\d+(\.\d*)?|\.\d+)$/.test(text)) {
    throw new UsageError(
      `invalid argument "${text}" for "--cpus" flag: failed to parse ${text} as a rational number`,
      'flag',
    );
  }
  // More than nine decimals cannot be expressed in nanoCPUs.
  if ((text.split('.')[1] ?? '').replace(/0+$/, '').length > 9) {
    throw new UsageError(`invalid argument "${text}" for "--cpus" flag: value is too precise`, 'flag');
  }
  return Math.round(Number(text) * 1e9);
}

/** opts.ParseRestartPolicy: "no", "always", "on-failure[:max]", "unless-stopped". */
export function parseRestartPolicy(text: string): { Name: string; MaximumRetryCount: number } {
  const [name = '', count, extra] = text.split(':');
  if (extra !== undefined)
    throw new StatusError(1, `invalid restart policy format: maximum retry count must be an integer`);
  if (count === undefined) return { Name: name, MaximumRetryCount: 0 };
  if (!/^-?\d+$/.test(count)) {
    throw new StatusError(1, `invalid restart policy format: maximum retry count must be an integer`);
  }
  return { Name: name, MaximumRetryCount: Number(count) };
}

export const updateCommand: Command = {
  name: 'update',
  usage: 'update [OPTIONS] CONTAINER [CONTAINER...]',
  summary: 'Update configuration of one or more containers',
  interspersed: true,
  args: { min: 1 },
  flags: [
    {
      name: 'blkio-weight',
      type: 'string',
      valueName: 'uint16',
      description: 'Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)',
    },
    {
      name: 'cpu-period',
      type: 'string',
      valueName: 'int',
      description: 'Limit CPU CFS (Completely Fair Scheduler) period',
    },
    {
      name: 'cpu-quota',
      type: 'string',
      valueName: 'int',
      description: 'Limit CPU CFS (Completely Fair Scheduler) quota',
    },
    { name: 'cpu-shares', short: 'c', type: 'string', valueName: 'int', description: 'CPU shares (relative weight)' },
    { name: 'cpus', type: 'string', valueName: 'decimal', description: 'Number of CPUs' },
    { name: 'cpuset-cpus', type: 'string', description: 'CPUs in which to allow execution (0-3, 0,1)' },
    { name: 'cpuset-mems', type: 'string', description: 'MEMs in which to allow execution (0-3, 0,1)' },
    { name: 'memory', short: 'm', type: 'string', valueName: 'bytes', description: 'Memory limit' },
    { name: 'memory-reservation', type: 'string', valueName: 'bytes', description: 'Memory soft limit' },
    {
      name: 'memory-swap',
      type: 'string',
      valueName: 'bytes',
      description: 'Swap limit equal to memory plus swap: -1 to enable unlimited swap',
    },
    {
      name: 'pids-limit',
      type: 'string',
      valueName: 'int',
      description: 'Tune container pids limit (set -1 for unlimited)',
    },
    { name: 'restart', type: 'string', description: 'Restart policy to apply when a container exits' },
  ],
  async run(ctx, { flags, args }) {
    const body: Record<string, unknown> = {};
    const set = (key: string, value: unknown): void => {
      if (value !== undefined) body[key] = value;
    };
    set('BlkioWeight', intFlag(flags['blkio-weight'], '--blkio-weight'));
    set('CpuPeriod', intFlag(flags['cpu-period'], '--cpu-period'));
    set('CpuQuota', intFlag(flags['cpu-quota'], '--cpu-quota'));
    set('CpuShares', intFlag(flags['cpu-shares'], '-c, --cpu-shares'));
    set('NanoCpus', nanoCpus(flags.cpus));
    set('CpusetCpus', flags['cpuset-cpus']);
    set('CpusetMems', flags['cpuset-mems']);
    set('Memory', bytesFlag(flags.memory, '-m, --memory'));
    set('MemoryReservation', bytesFlag(flags['memory-reservation'], '--memory-reservation'));
    set('MemorySwap', bytesFlag(flags['memory-swap'], '--memory-swap', true));
    set('PidsLimit', intFlag(flags['pids-limit'], '--pids-limit'));
    if (flags.restart !== undefined) body.RestartPolicy = parseRestartPolicy(flags.restart as string);
    if (Object.keys(body).length === 0) {
      throw new StatusError(1, 'you must provide one or more flags when using this command');
    }
    return forEachContainer(ctx, args, async (ref) => {
      const res = await ctx.client.json<{ Warnings?: string[] | null }>('POST', containerPath(ref, '/update'), {
        body,
      });
      for (const w of res?.Warnings ?? []) ctx.streams.stderr.write(`${w}\n`);
    });
  },
};
