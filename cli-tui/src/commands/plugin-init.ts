// skiff plugin init <kind> <name> [dir]: a new plugin package with the `skiff` manifest, a driver
// skeleton for the kind, and the kind's conformance suite from @skiff/core/testkit as `npm test`.

import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { StatusError } from '../cli/errors.js';
import type { SubCommand } from '../cli/group.js';

export const SCAFFOLD_KINDS = ['storage', 'network', 'ipam', 'volume', 'runtime'] as const;
export type ScaffoldKind = (typeof SCAFFOLD_KINDS)[number];

/** The @skiff/core range new plugins declare: the minor line of the CLI's own version. */
export const CORE_RANGE = '^0.1.0';

function className(name: string, suffix: string): string {
  const camel = name
    .split(/[^a-zA-Z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');
  return `${/^[0-9]/.test(camel) ? `X${camel}` : camel}${suffix}`;
}

const TODO = (what: string) => `throw new NotImplementedError('${what}: not implemented yet');`;

function driverSource(kind: ScaffoldKind, name: string): string {
  switch (kind) {
    case 'storage': {
      const cls = className(name, 'Driver');
      return `import {
  type GraphDriver,
  type GraphDriverCapabilities,
  type Labels,
  type Mount,
  NotImplementedError,
  type SnapshotInfo,
} from '@skiff/core/plugin-api';

/** Graph driver "${name}": keeps snapshots under \`root\` and returns mounts (it never mounts itself). */
export class ${cls} implements GraphDriver {
  readonly name = '${name}';

  constructor(private readonly root: string) {}

  capabilities(): GraphDriverCapabilities {
    return { maxLayers: 128, copyOnWrite: false };
  }

  async prepare(key: string, parent?: string, opts?: { labels?: Labels }): Promise<Mount[]> {
    ${TODO('prepare')}
  }

  async view(key: string, parent: string, opts?: { labels?: Labels }): Promise<Mount[]> {
    ${TODO('view')}
  }

  async mounts(key: string): Promise<Mount[]> {
    ${TODO('mounts')}
  }

  async commit(name: string, key: string, opts?: { labels?: Labels; parent?: string }): Promise<void> {
    ${TODO('commit')}
  }

  async remove(key: string): Promise<void> {
    ${TODO('remove')}
  }

  async stat(key: string): Promise<SnapshotInfo> {
    ${TODO('stat')}
  }

  async list(): Promise<SnapshotInfo[]> {
    ${TODO('list')}
  }

  async usage(key: string): Promise<{ size: number; inodes: number }> {
    ${TODO('usage')}
  }

  async close(): Promise<void> {}
}
`;
    }
    case 'network': {
      const cls = className(name, 'NetworkDriver');
      return `import {
  type AttachRequest,
  type AttachResult,
  type IpamPool,
  type Labels,
  type NetworkDriver,
  type NetworkDriverCapabilities,
  type NetworkSpec,
  NotImplementedError,
} from '@skiff/core/plugin-api';

/** Network driver "${name}": attaches one endpoint to one network namespace and returns a CNI-shaped result. */
export class ${cls} implements NetworkDriver {
  readonly name = '${name}';

  constructor(private readonly stateDir: string) {}

  capabilities(): NetworkDriverCapabilities {
    return { namespace: 'private', endpoints: true, needsIpam: true, portMapping: false, dns: false, scope: 'local' };
  }

  async createNetwork(spec: NetworkSpec, pools: IpamPool[]): Promise<Labels> {
    ${TODO('createNetwork')}
  }

  async deleteNetwork(spec: NetworkSpec): Promise<void> {
    ${TODO('deleteNetwork')}
  }

  async attach(req: AttachRequest): Promise<AttachResult> {
    ${TODO('attach')}
  }

  async detach(req: AttachRequest, prev: AttachResult | null): Promise<void> {
    ${TODO('detach')}
  }
}
`;
    }
    case 'ipam': {
      const cls = className(name, 'IpamDriver');
      return `import { type IpamDriver, type IpamPool, NotImplementedError } from '@skiff/core/plugin-api';

/** IPAM driver "${name}": pools and the addresses handed out in them, kept under \`stateDir\`. */
export class ${cls} implements IpamDriver {
  readonly name = '${name}';

  constructor(private readonly stateDir: string) {}

  async requestPool(req: { pool?: string; range?: string; gateway?: string; v6: boolean; exclude?: string[] }): Promise<IpamPool> {
    ${TODO('requestPool')}
  }

  async releasePool(poolId: string): Promise<void> {
    ${TODO('releasePool')}
  }

  async requestAddress(poolId: string, opts?: { preferred?: string }): Promise<string> {
    ${TODO('requestAddress')}
  }

  async releaseAddress(poolId: string, address: string): Promise<void> {
    ${TODO('releaseAddress')}
  }
}
`;
    }
    case 'volume': {
      const cls = className(name, 'VolumeDriver');
      return `import { type Labels, NotImplementedError, type VolumeDriver, type VolumeInfo } from '@skiff/core/plugin-api';

/** Volume driver "${name}": volumes under \`root\`, mounts counted per caller (state under \`state\`). */
export class ${cls} implements VolumeDriver {
  readonly name = '${name}';

  constructor(private readonly paths: { root: string; state: string }) {}

  capabilities(): { scope: 'local' | 'global' } {
    return { scope: 'local' };
  }

  async create(name: string, opts: Labels, labels: Labels): Promise<VolumeInfo> {
    ${TODO('create')}
  }

  async get(name: string): Promise<VolumeInfo> {
    ${TODO('get')}
  }

  async list(): Promise<VolumeInfo[]> {
    ${TODO('list')}
  }

  async remove(name: string): Promise<void> {
    ${TODO('remove')}
  }

  async mount(name: string, callerId: string): Promise<{ path: string }> {
    ${TODO('mount')}
  }

  async unmount(name: string, callerId: string): Promise<void> {
    ${TODO('unmount')}
  }
}
`;
    }
    case 'runtime': {
      const cls = className(name, 'Runtime');
      return `import {
  type ExitStatus,
  type LogEntry,
  type LogOptions,
  NotImplementedError,
  type Runtime,
  type RuntimeCapabilities,
  type TaskSpec,
  type TaskState,
} from '@skiff/core/plugin-api';

/** Runtime "${name}": runs a task from an OCI bundle; its own state lives under \`stateDir\`. */
export class ${cls} implements Runtime {
  readonly name = '${name}';

  constructor(private readonly stateDir: string) {}

  capabilities(): RuntimeCapabilities {
    return { terminal: false, stdin: false, survivesDaemonRestart: false };
  }

  async create(spec: TaskSpec): Promise<{ pid: number }> {
    ${TODO('create')}
  }

  async start(id: string): Promise<void> {
    ${TODO('start')}
  }

  async kill(id: string, signal: string | number, opts?: { all?: boolean }): Promise<void> {
    ${TODO('kill')}
  }

  async wait(id: string, signal?: AbortSignal): Promise<ExitStatus> {
    ${TODO('wait')}
  }

  async state(id: string): Promise<TaskState> {
    ${TODO('state')}
  }

  async delete(id: string): Promise<void> {
    ${TODO('delete')}
  }

  async *logs(id: string, logPath: string, opts: LogOptions): AsyncIterable<LogEntry> {
    ${TODO('logs')}
  }

  async close(): Promise<void> {}
}
`;
    }
  }
}

function driverClass(kind: ScaffoldKind, name: string): string {
  const suffix = {
    storage: 'Driver',
    network: 'NetworkDriver',
    ipam: 'IpamDriver',
    volume: 'VolumeDriver',
    runtime: 'Runtime',
  }[kind];
  return className(name, suffix);
}

function pluginSource(kind: ScaffoldKind, name: string): string {
  const cls = driverClass(kind, name);
  const make = {
    storage: `new ${cls}(r.paths.root)`,
    network: `new ${cls}(r.paths.state)`,
    ipam: `new ${cls}(r.paths.state)`,
    volume: `new ${cls}(r.paths)`,
    runtime: `new ${cls}(r.paths.state)`,
  }[kind];
  return `import { definePlugin } from '@skiff/core/plugin-api';
import { ${cls} } from './driver.js';

export { ${cls} } from './driver.js';

// The host reads kind and name from package.json's "skiff" field first (without running this
// file); they must agree with what this manifest says.
export default definePlugin({
  apiVersion: 1,
  kind: '${kind}',
  name: '${name}',
  register(r) {
    // r.skip('reason') here declares the plugin unsupported on this host (not a failure).
    r.provide(() => ${make});
  },
});
`;
}

function conformanceSource(kind: ScaffoldKind, name: string): string {
  const cls = driverClass(kind, name);
  switch (kind) {
    case 'storage':
      return `import { graphDriverSuite } from '@skiff/core/testkit';
import test from 'ava';
import { ${cls} } from './driver.js';

graphDriverSuite(test, '${name}', async (root) => new ${cls}(root));
`;
    case 'network':
      return `import { networkDriverSuite, providedNetworkDriver } from '@skiff/core/testkit';
import test from 'ava';
import plugin from './plugin.js';

networkDriverSuite(test, '${name}', (ctx) =>
  providedNetworkDriver(plugin, { paths: { root: ctx.stateDir, state: ctx.stateDir } }),
);
`;
    case 'ipam':
      return `import { ipamDriverSuite } from '@skiff/core/testkit';
import test from 'ava';
import { ${cls} } from './driver.js';

ipamDriverSuite(test, '${name}', async (ctx) => new ${cls}(ctx.state));
`;
    case 'volume':
      return `import { providedVolumeDriver, volumeDriverSuite } from '@skiff/core/testkit';
import test from 'ava';
import plugin from './plugin.js';

volumeDriverSuite(test, '${name}', (ctx) => providedVolumeDriver(plugin, ctx));
`;
    case 'runtime':
      return `import { runtimeSuite } from '@skiff/core/testkit';
import test from 'ava';
import { ${cls} } from './driver.js';

runtimeSuite(test, '${name}', async (stateDir) => new ${cls}(stateDir));
`;
  }
}

const SUITES: Record<ScaffoldKind, string> = {
  storage: 'graphDriverSuite',
  network: 'networkDriverSuite',
  ipam: 'ipamDriverSuite',
  volume: 'volumeDriverSuite',
  runtime: 'runtimeSuite',
};

function readme(kind: ScaffoldKind, name: string, pkgName: string): string {
  return `# ${pkgName}

A ${kind} driver for [skiff](https://github.com/skiff) named \`${name}\`.

## Develop

    npm install
    npm test          # builds, then runs @skiff/core/testkit's ${SUITES[kind]} against the driver

The driver in \`src/driver.ts\` is a skeleton: every method throws NotImplementedError until you
write it, so the conformance suite fails until then. \`src/plugin.ts\` is the entry skiffd imports;
\`package.json\`'s \`skiff\` field (read without running any code) must agree with it.

## Install into skiffd

    npm pack
    skiff plugin install ./${pkgName.replace(/^@/, '').replace('/', '-')}-0.1.0.tgz

Then select it in daemon.json (see the guide for ${kind} plugins in skiff's docs/plugins/${kind}.md).
`;
}

export interface ScaffoldOptions {
  kind: string;
  name: string;
  dir: string;
}

/** Writes the package into `dir` (which must not exist or be empty); returns the files written. */
export async function scaffoldPlugin({ kind, name, dir }: ScaffoldOptions): Promise<string[]> {
  if (!(SCAFFOLD_KINDS as readonly string[]).includes(kind)) {
    throw new StatusError(1, `unknown plugin kind "${kind}" (one of: ${SCAFFOLD_KINDS.join(', ')})`);
  }
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(name)) {
    throw new StatusError(1, `invalid driver name "${name}": lowercase letters, digits, '.', '_' and '-'`);
  }
  if (existsSync(dir) && (await readdir(dir)).length > 0) {
    throw new StatusError(1, `${dir} exists and is not empty`);
  }
  const k = kind as ScaffoldKind;
  const pkgName = `skiff-plugin-${name}`;
  const pkg = {
    name: pkgName,
    version: '0.1.0',
    description: `skiff ${k} driver "${name}"`,
    type: 'module',
    main: './dist/plugin.js',
    exports: { '.': './dist/plugin.js', './package.json': './package.json' },
    files: ['dist'],
    keywords: ['skiff-plugin', `skiff-${k}`],
    skiff: { apiVersion: 1, kind: k, name, entry: './dist/plugin.js' },
    scripts: { build: 'tsc', test: 'tsc && ava', prepack: 'tsc' },
    peerDependencies: { '@skiff/core': CORE_RANGE },
    devDependencies: {
      '@skiff/core': CORE_RANGE,
      '@types/node': '^24.0.0',
      ava: '^6.4.1',
      typescript: '^5.9.3',
    },
    ava: { files: ['dist/**/*.test.js'], timeout: '5m', workerThreads: false },
    engines: { node: '>=24' },
  };
  const tsconfig = {
    compilerOptions: {
      target: 'ES2023',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      lib: ['ES2023'],
      types: ['node'],
      strict: true,
      noImplicitOverride: true,
      declaration: true,
      sourceMap: true,
      skipLibCheck: true,
      rootDir: 'src',
      outDir: 'dist',
    },
    include: ['src'],
  };
  const files: Record<string, string> = {
    'package.json': `${JSON.stringify(pkg, null, 2)}\n`,
    'tsconfig.json': `${JSON.stringify(tsconfig, null, 2)}\n`,
    '.gitignore': 'node_modules/\ndist/\n*.tgz\n',
    'README.md': readme(k, name, pkgName),
    'src/driver.ts': driverSource(k, name),
    'src/plugin.ts': pluginSource(k, name),
    'src/conformance.test.ts': conformanceSource(k, name),
  };
  await mkdir(join(dir, 'src'), { recursive: true });
  for (const [rel, text] of Object.entries(files)) await writeFile(join(dir, rel), text, { flag: 'wx' });
  return Object.keys(files);
}

export const initCommand: SubCommand = {
  name: 'init',
  usage: 'init KIND NAME [DIR]',
  summary: `Create a plugin package (kinds: ${SCAFFOLD_KINDS.join(', ')}) with its conformance test`,
  interspersed: true,
  args: { min: 2, max: 3 },
  flags: [],
  async run(ctx, { args }) {
    const [kind, name, dirArg] = args as [string, string, string?];
    const dir = resolve(dirArg ?? `skiff-plugin-${name}`);
    const files = await scaffoldPlugin({ kind, name, dir });
    ctx.streams.stdout.write(
      `Created skiff-plugin-${name} (${kind} driver "${name}") in ${dir}:\n${files.map((f) => `  ${f}\n`).join('')}` +
        `Next: cd ${dir} && npm install && npm test\n`,
    );
    return 0;
  },
};
