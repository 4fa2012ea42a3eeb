import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { dropHidden } from '../containers/container-files.js';
import type { ContainerService } from '../containers/container-service.js';
import { resolveDirInRoot, splitRelativePath, withMounted } from '../host/index.js';
import { layerKey } from '../images/chain-id.js';
import { withImageLock } from '../images/image-remove.js';
import type { ImageService } from '../images/image-service.js';
import { setTag } from '../images/image-tags.js';
import type { ImageRecord } from '../images/image-types.js';
import { diffTrees, withSnapshotDiff } from '../images/layer-diff.js';
import { canonicalString, familiarString, type ImageReference, parseReference } from '../images/reference.js';
import type { RegistryAuth } from '../images/registry-auth.js';
import { InvalidParameterError, NotFoundError } from '../plugin-api/errors.js';
import type { Logger } from '../plugin-api/logger.js';
import { BuildArgs, PROXY_ARGS } from './build-args.js';
import { BuildCache } from './build-cache.js';
import { type BuildStream, StepFailedError } from './build-stream.js';
import { copySources, resolveSources, sourceChecksum } from './context/index.js';
import {
  type CopyInstruction,
  type FromInstruction,
  type Instruction,
  type ParsedDockerfile,
  parseLine,
  type Stage,
} from './dockerfile.js';
import { envLookup, processWord, processWords } from './shell-lex.js';
import { type BuildConfig, commitLayer, type NewLayer, writeStepImage } from './step-image.js';
import { exposedPorts, validateStopSignal } from './step-values.js';

export interface BuildOptions {
  contextDir: string;
  tags: ImageReference[];
  buildArgs: ReadonlyMap<string, string | null>;
  labels: Record<string, string>;
  target?: string;
  noCache: boolean;
  pull: boolean;
  /** Remove intermediate containers of successful steps (`rm`, default true). */
  rm: boolean;
  /** Remove them even when the step failed. */
  forceRm: boolean;
  /** `networkmode` for RUN containers ("default" when not given). */
  networkMode: string;
  /** More HostConfig for RUN containers: ExtraHosts, ShmSize, Memory, CPU settings. */
  runHostConfig?: Record<string, unknown>;
  platform?: string;
  /** `X-Registry-Config`: credentials per registry for pulls. */
  registryAuth: Record<string, RegistryAuth>;
  signal: AbortSignal;
}

export interface BuilderDeps {
  images: ImageService;
  containers: ContainerService;
  cache: BuildCache;
  log: Logger;
}

/** One stage being built: its current image (none yet after FROM scratch) and config. */
interface StageState {
  index: number;
  name?: string;
  image?: ImageRecord;
  config: BuildConfig;
  /** ARGs declared in this stage with their values (undefined: declared without one). */
  args: Map<string, string | undefined>;
  cmdSet: boolean;
  author?: string;
}

const DEFAULT_SHELL = ['/bin/sh', '-c'];
const short = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);
/** Go's %q of a string slice, as dockerd writes CMD and ENTRYPOINT into history. */
const goList = (a: readonly string[]) => `[${a.map((s) => JSON.stringify(s)).join(' ')}]`;

/** Go's `%q` of a *HealthConfig, as in dockerd's history (`&{["CMD-SHELL" "true"] "30s" "5s" "0s" '\x02'}`). */
function goHealthcheck(h: {
  Test: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  Retries?: number;
}) {
  const retries = h.Retries ?? 0;
  const rune = retries < 0x20 ? `'\\x${retries.toString(16).padStart(2, '0')}'` : `'${String.fromCharCode(retries)}'`;
  const d = (ns = 0) => `"${goDuration(ns)}"`;
  return `&{${goList(h.Test)} ${d(h.Interval)} ${d(h.Timeout)} ${d(h.StartPeriod)} ${rune}}`;
}

/** Go's time.Duration String() for whole milliseconds and up. */
function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  if (ns < 1e9) return `${ns / 1e6}ms`;
  let s = ns / 1e9;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const sec = `${Number(s.toFixed(9))}s`;
  return h ? `${h}h${m}m${sec}` : m ? `${m}m${sec}` : sec;
}

/** A double-quoted Dockerfile word whose processing (escape character `esc`) yields `s` exactly. */
const dquote = (s: string, esc: string) =>
  `"${[...s].map((c) => (c === esc || c === '"' || c === '$' ? esc + c : c)).join('')}"`;

/** Checks a `--platform`: this builder only makes linux/amd64 images. */
function checkPlatform(p: string | undefined): void {
  if (!p) return;
  const v = p.toLowerCase();
  if (v === 'linux' || v === 'linux/amd64' || v === 'linux/x86_64' || v === 'linux/amd64/v1') return;
  throw new InvalidParameterError(`platform "${p}" is not supported by this builder (only linux/amd64)`);
}

/**
 * The classic builder (moby's builder/dockerfile): runs a parsed Dockerfile step by step, each
 * step committed as an image and looked up in the build cache first.
 */
export class Builder {
  private readonly done: StageState[] = [];
  private readonly args: BuildArgs;
  private readonly metaArgs = new Map<string, string | undefined>();
  private step = 0;
  /** Removals of build containers still under way. */
  private readonly cleanups: Promise<void>[] = [];
  private total = 0;
  private escape = '\\';

  constructor(
    private readonly deps: BuilderDeps,
    private readonly opts: BuildOptions,
    private readonly out: BuildStream,
  ) {
    this.args = new BuildArgs(opts.buildArgs);
    checkPlatform(opts.platform);
  }

  /** Builds and tags; returns the final image ID. */
  async build(df: ParsedDockerfile): Promise<string> {
    try {
      return await this.buildAll(df);
    } finally {
      await Promise.all(this.cleanups);
    }
  }

  private async buildAll(df: ParsedDockerfile): Promise<string> {
    this.escape = df.escape;
    let stages = df.stages;
    if (Object.keys(this.opts.labels).length > 0) {
      const last = stages.at(-1)!;
      const keys = Object.keys(this.opts.labels).sort();
      const original = `LABEL ${keys.map((k) => `${JSON.stringify(k)}='${this.opts.labels[k]}'`).join(' ')}`;
      const labels: Instruction = {
        kind: 'LABEL',
        line: 0,
        original,
        // Quoted so that substitution gives the values back unchanged.
        pairs: keys.map((k) => ({ key: dquote(k, this.escape), value: dquote(this.opts.labels[k]!, this.escape) })),
      };
      stages = [...stages.slice(0, -1), { ...last, commands: [...last.commands, labels] }];
    }
    if (this.opts.target) {
      const t = this.opts.target.toLowerCase();
      const ix = stages.findIndex((s) => s.from.stageName === t);
      if (ix < 0) throw new InvalidParameterError(`failed to reach build target ${this.opts.target} in Dockerfile`);
      stages = stages.slice(0, ix + 1);
    }
    this.total = df.metaArgs.length + stages.reduce((n, s) => n + 1 + s.commands.length, 0);

    for (const a of df.metaArgs) {
      this.printStep(a.original);
      const lookup = this.metaLookup();
      const dflt = a.value === undefined ? undefined : processWord(a.value, lookup, this.escape);
      this.args.reference(a.key);
      this.metaArgs.set(a.key, this.args.has(a.key) ? this.args.value(a.key) : dflt);
    }
    let last: StageState | undefined;
    for (const [index, stage] of stages.entries()) {
      last = await this.buildStage(stage, index);
      this.done.push(last);
    }
    await Promise.all(this.cleanups.splice(0));
    const warning = this.args.unusedWarning();
    if (warning) this.out.text(warning);
    if (!last?.image) throw new InvalidParameterError('No image was generated. Is your Dockerfile empty?');
    const id = last.image.id;
    this.out.text(`Successfully built ${short(id)}\n`);
    for (const ref of this.opts.tags) {
      // A rebuild that gives the same image leaves the name alone (no synchronous write), but is reported.
      const { store, events } = this.deps.images.local;
      if (store.resolveRef(canonicalString(ref)) !== id) setTag(this.deps.images, id, ref);
      else
        events.publish({ Type: 'image', Action: 'tag', Actor: { ID: id, Attributes: { name: familiarString(ref) } } });
      this.out.text(`Successfully tagged ${familiarString(ref)}\n`);
    }
    this.out.quietResult(id);
    return id;
  }

  private printStep(original: string): void {
    this.step++;
    this.out.text(`Step ${this.step}/${this.total} : ${original}`);
    this.out.text('\n');
  }

  private metaLookup() {
    return envLookup([...this.metaArgs].flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`])));
  }

  private checkAborted(): void {
    if (this.opts.signal.aborted) throw new Error('the build was cancelled: the client went away');
  }

  private async buildStage(stage: Stage, index: number): Promise<StageState> {
    this.printStep(stage.from.original);
    const state = await this.from(stage.from, index);
    this.out.text(` ---> ${state.image ? short(state.image.id) : ''}\n`);
    for (const ins of stage.commands) {
      this.checkAborted();
      this.printStep(ins.original);
      await this.dispatch(state, ins);
      this.out.text(` ---> ${state.image ? short(state.image.id) : ''}\n`);
    }
    if (state.image) this.out.aux(state.image.id);
    return state;
  }

  // ── FROM ──

  private async from(ins: FromInstruction, index: number): Promise<StageState> {
    const lookup = this.metaLookup();
    const name = processWord(ins.image, lookup, this.escape);
    if (name === '') throw new InvalidParameterError(`base name (${ins.image}) should not be blank`);
    checkPlatform(ins.platform ? processWord(ins.platform, lookup, this.escape) : undefined);
    if (ins.stageName && this.done.some((s) => s.name === ins.stageName))
      throw new InvalidParameterError(`duplicate name ${ins.stageName}`);
    const state: StageState = {
      index,
      ...(ins.stageName ? { name: ins.stageName } : {}),
      config: {},
      args: new Map(),
      cmdSet: false,
    };
    if (name.toLowerCase() === 'scratch') return state;
    const earlier = this.done.find((s) => s.name === name.toLowerCase());
    const image = earlier ? earlier.image : await this.baseImage(name, this.opts.pull);
    if (!image) return state;
    state.image = image;
    state.config = structuredClone((image.config.config ?? {}) as BuildConfig);
    state.author = image.config.author;
    const triggers = state.config.OnBuild ?? [];
    if (triggers.length > 0) {
      state.config.OnBuild = null;
      this.out.text(`# Executing ${triggers.length} build trigger${triggers.length > 1 ? 's' : ''}\n`);
      for (const expr of triggers) {
        const trigger = parseLine(expr, ins.line, this.escape);
        if (trigger.kind === 'FROM' || trigger.kind === 'ONBUILD' || trigger.kind === 'MAINTAINER')
          throw new InvalidParameterError(`${trigger.kind} isn't allowed as an ONBUILD trigger`);
        await this.dispatch(state, trigger);
      }
    }
    return state;
  }

  /** A base image: local unless `pull`, pulled when missing (progress goes to the build output). */
  private async baseImage(name: string, pull: boolean): Promise<ImageRecord> {
    const { images } = this.deps;
    if (!pull) {
      const found = images.find(name);
      if (found) return found;
    }
    let ref: ImageReference;
    try {
      ref = parseReference(name);
    } catch (err) {
      throw new InvalidParameterError((err as Error).message);
    }
    const auth =
      this.opts.registryAuth[ref.domain] ??
      (ref.domain === 'docker.io' ? this.opts.registryAuth['https://index.docker.io/v1/'] : undefined);
    return images.pull(name, {
      ...(auth ? { auth } : {}),
      signal: this.opts.signal,
      onProgress: (m) => this.out.progress(m),
    });
  }

  // ── Dispatch ──

  private lookup(state: StageState) {
    return envLookup(state.config.Env ?? [], this.argEnv(state));
  }

  /** The declared ARGs with a value, as env entries. */
  private argEnv(state: StageState): string[] {
    return [...state.args].flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
  }

  private word(state: StageState, w: string): string {
    return processWord(w, this.lookup(state), this.escape);
  }

  private async dispatch(state: StageState, ins: Instruction): Promise<void> {
    const c = state.config;
    switch (ins.kind) {
      case 'FROM':
        throw new InvalidParameterError('FROM is not allowed here');
      case 'RUN':
        return this.run(state, ins.json, ins.args);
      case 'COPY':
      case 'ADD':
        return this.copy(state, ins);
      case 'WORKDIR': {
        const v = this.word(state, ins.value);
        const path = posix.resolve('/', c.WorkingDir || '/', v);
        c.WorkingDir = path;
        return this.workdir(state, path);
      }
      case 'ENV': {
        const lookup = this.lookup(state);
        const pairs = ins.pairs.map((p) => ({
          key: processWord(p.key, lookup, this.escape),
          value: processWord(p.value, lookup, this.escape),
        }));
        const env = [...(c.Env ?? [])];
        for (const p of pairs) {
          const i = env.findIndex((e) => e.split('=', 1)[0] === p.key);
          if (i >= 0) env[i] = `${p.key}=${p.value}`;
          else env.push(`${p.key}=${p.value}`);
        }
        c.Env = env;
        return this.meta(state, `ENV ${pairs.map((p) => `${p.key}=${p.value}`).join(' ')}`);
      }
      case 'LABEL': {
        const lookup = this.lookup(state);
        const pairs = ins.pairs.map((p) => ({
          key: processWord(p.key, lookup, this.escape),
          value: processWord(p.value, lookup, this.escape),
        }));
        c.Labels = { ...c.Labels };
        for (const p of pairs) c.Labels[p.key] = p.value;
        return this.meta(state, `LABEL ${pairs.map((p) => `${p.key}=${p.value}`).join(' ')}`);
      }
      case 'ARG': {
        const dflt = ins.value === undefined ? undefined : this.word(state, ins.value);
        this.args.reference(ins.key);
        const value = this.args.has(ins.key)
          ? this.args.value(ins.key)
          : (dflt ?? (this.metaArgs.has(ins.key) ? this.metaArgs.get(ins.key) : undefined));
        state.args.set(ins.key, value);
        return this.meta(state, `ARG ${ins.key}${ins.value === undefined ? '' : `=${dflt}`}`);
      }
      case 'USER':
        c.User = this.word(state, ins.value);
        return this.meta(state, `USER ${c.User}`);
      case 'STOPSIGNAL': {
        const sig = this.word(state, ins.value);
        validateStopSignal(sig);
        c.StopSignal = sig;
        return this.meta(state, `STOPSIGNAL ${sig}`);
      }
      case 'MAINTAINER':
        state.author = ins.value;
        return this.meta(state, `MAINTAINER ${ins.value}`);
      case 'EXPOSE': {
        const lookup = this.lookup(state);
        const ports = ins.values.flatMap((v) => processWords(v, lookup, this.escape)).sort();
        c.ExposedPorts = { ...c.ExposedPorts, ...exposedPorts(ports) };
        return this.meta(state, `EXPOSE ${ports.join(' ')}`);
      }
      case 'VOLUME': {
        const vols = ins.values.map((v) => this.word(state, v).trim());
        if (vols.some((v) => v === '')) throw new InvalidParameterError('VOLUME specified can not be an empty string');
        c.Volumes = { ...c.Volumes };
        for (const v of vols) c.Volumes[v] = {};
        return this.meta(state, `VOLUME [${vols.join(' ')}]`);
      }
      case 'CMD': {
        c.Cmd = ins.json ? ins.args : [...(c.Shell ?? DEFAULT_SHELL), ...ins.args];
        state.cmdSet = true;
        return this.meta(state, `CMD ${goList(c.Cmd)}`);
      }
      case 'ENTRYPOINT': {
        if (ins.json) c.Entrypoint = ins.args.length === 0 ? null : ins.args;
        else c.Entrypoint = [...(c.Shell ?? DEFAULT_SHELL), ...(ins.args.length ? ins.args : [''])];
        if (!state.cmdSet) c.Cmd = null;
        return this.meta(state, `ENTRYPOINT ${goList(c.Entrypoint ?? [])}`);
      }
      case 'SHELL':
        c.Shell = ins.args;
        return this.meta(state, `SHELL [${ins.args.join(' ')}]`);
      case 'HEALTHCHECK': {
        if (ins.test[0] === 'NONE') c.Healthcheck = { Test: ['NONE'] };
        else
          c.Healthcheck = {
            Test: ins.test,
            ...(ins.interval ? { Interval: ins.interval } : {}),
            ...(ins.timeout ? { Timeout: ins.timeout } : {}),
            ...(ins.startPeriod ? { StartPeriod: ins.startPeriod } : {}),
            ...(ins.retries ? { Retries: ins.retries } : {}),
          };
        return this.meta(state, `HEALTHCHECK ${goHealthcheck(c.Healthcheck)}`);
      }
      case 'ONBUILD':
        c.OnBuild = [...(c.OnBuild ?? []), ins.expression];
        return this.meta(state, `ONBUILD ${ins.expression}`);
    }
  }

  // ── Committing ──

  /** Takes the cached image for `canonical` if there is one (and prints so). */
  private fromCache(state: StageState, canonical: string): boolean {
    if (this.opts.noCache) return false;
    const { store } = this.deps.images.local;
    const image = this.deps.cache.lookup(BuildCache.key(state.image?.id ?? '', canonical), (id) => store.get(id));
    if (!image) return false;
    this.out.text(' ---> Using cache\n');
    this.adopt(state, image);
    return true;
  }

  private adopt(state: StageState, image: ImageRecord): void {
    state.image = image;
    state.config = structuredClone((image.config.config ?? {}) as BuildConfig);
    if (image.config.author) state.author = image.config.author;
  }

  private async commit(
    state: StageState,
    canonical: string,
    createdBy: string,
    containerCmd: string[],
    layer?: NewLayer,
    containerId?: string,
  ): Promise<void> {
    const config = state.config;
    const image = await writeStepImage(this.deps.images.local, {
      ...(state.image ? { parent: state.image } : {}),
      config,
      createdBy,
      containerCmd,
      ...(layer ? { layer } : {}),
      ...(state.author ? { author: state.author } : {}),
      ...(containerId ? { containerId } : {}),
    });
    this.deps.cache.store(BuildCache.key(state.image?.id ?? '', canonical), image.id);
    this.adopt(state, image);
  }

  /** A step that only changes the config: an image with an empty layer. */
  private async meta(state: StageState, comment: string): Promise<void> {
    const shell = state.config.Shell ?? DEFAULT_SHELL;
    const createdBy = `${[...shell, '#(nop) '].join(' ')} ${comment}`;
    // The image before the step and the config after it identify the step.
    const canonical = `${createdBy}\n${JSON.stringify(state.config)}`;
    if (this.fromCache(state, canonical)) return;
    await this.commit(state, canonical, createdBy, [...shell, '#(nop) ', comment]);
  }

  /** Makes a snapshot on the current image, lets `change` write into its root, and returns the diff layer. */
  private async changeFiles(state: StageState, change: (root: string) => Promise<void>): Promise<NewLayer | undefined> {
    const parts = this.deps.images.local;
    const parentChain = state.image?.layers.at(-1)?.chainId;
    const key = `build-${randomBytes(8).toString('hex')}`;
    const viewKey = `${key}-parent`;
    try {
      const mounts = await parts.graph.prepare(key, parentChain && layerKey(parentChain));
      // The diff is read while the snapshot is still mounted: one mount less per step.
      return await withMounted(mounts, async (root) => {
        await change(root);
        const diff = (lower: string | undefined) => {
          const tar = diffTrees(lower, root);
          return commitLayer(parts, parentChain, tar, 'of a build step').finally(() => tar.destroy());
        };
        if (!parentChain) return withImageLock(this.deps.images, () => diff(undefined));
        const lowerMounts = await parts.graph.view(viewKey, layerKey(parentChain));
        return withMounted(lowerMounts, (lower) => withImageLock(this.deps.images, () => diff(lower)));
      });
    } finally {
      await parts.graph.remove(viewKey).catch(() => {});
      await parts.graph.remove(key).catch(() => {});
    }
  }

  private async workdir(state: StageState, path: string): Promise<void> {
    const shell = state.config.Shell ?? DEFAULT_SHELL;
    const comment = `WORKDIR ${path}`;
    // dockerd writes this one with a single space after #(nop).
    const createdBy = `${shell.join(' ')} #(nop) ${comment}`;
    const canonical = `${createdBy}\n${JSON.stringify(state.config)}`;
    if (this.fromCache(state, canonical)) return;
    const layer = await this.changeFiles(state, async (root) => {
      await resolveDirInRoot(root, splitRelativePath(path.slice(1)), { create: true });
    });
    await this.commit(state, canonical, createdBy, [...shell, `#(nop) ${comment}`], layer);
  }

  // ── COPY / ADD ──

  private async copy(state: StageState, ins: CopyInstruction): Promise<void> {
    const lookup = this.lookup(state);
    const w = (s: string) => processWord(s, lookup, this.escape);
    const sources = ins.sources.map(w);
    const dest = w(ins.dest);
    const chown = ins.chown ? w(ins.chown) : undefined;
    // Only ADD downloads URLs; COPY needs no scratch directory.
    const tmp = ins.kind === 'ADD' ? await mkdtemp(join(dirname(this.opts.contextDir), 'build-add-')) : undefined;
    try {
      await this.withSourceRoot(ins.from, async (root) => {
        const set = await resolveSources(root, sources, {
          allowUrl: ins.kind === 'ADD',
          ...(tmp ? { tmpDir: tmp } : {}),
          signal: this.opts.signal,
        });
        try {
          const sum = await sourceChecksum(set);
          const shell = state.config.Shell ?? DEFAULT_SHELL;
          const comment = `${ins.kind} ${sum} in ${dest} `;
          const createdBy = `${shell.join(' ')} #(nop) ${comment}`;
          const canonical = `${createdBy}\n${JSON.stringify({ chown, chmod: ins.chmod, from: ins.from })}\n${JSON.stringify(state.config)}`;
          if (this.fromCache(state, canonical)) return;
          const layer = await this.changeFiles(state, (rootfs) =>
            copySources(set, rootfs, dest, {
              workdir: state.config.WorkingDir || '/',
              ...(chown ? { chown } : {}),
              ...(ins.chmod ? { chmod: ins.chmod } : {}),
              isAdd: ins.kind === 'ADD',
              signal: this.opts.signal,
            }),
          );
          await this.commit(state, canonical, createdBy, [...shell, `#(nop) ${comment}`], layer);
        } finally {
          await set.release();
        }
      });
    } finally {
      if (tmp) await rm(tmp, { recursive: true, force: true });
    }
  }

  /** Runs `fn` on the root COPY reads from: the context, an earlier stage's or an image's rootfs. */
  private async withSourceRoot(from: string | undefined, fn: (root: string) => Promise<void>): Promise<void> {
    if (from === undefined || from === '') return fn(this.opts.contextDir);
    const byName = this.done.find((s) => s.name === from.toLowerCase());
    const byIndex = /^\d+$/.test(from) ? this.done[Number(from)] : undefined;
    if (/^\d+$/.test(from) && !byIndex)
      throw new InvalidParameterError(`invalid from flag value ${from}: refers to current build stage`);
    const stage = byName ?? byIndex;
    let image: ImageRecord | undefined;
    if (stage) image = stage.image;
    else {
      if (from.toLowerCase() === 'scratch') image = undefined;
      else image = await this.baseImage(from, false);
    }
    const chain = image?.layers.at(-1)?.chainId;
    if (!chain) {
      const empty = await mkdtemp(join(dirname(this.opts.contextDir), 'build-empty-'));
      try {
        return await fn(empty);
      } finally {
        await rm(empty, { recursive: true, force: true });
      }
    }
    const { graph } = this.deps.images.local;
    const key = `build-from-${randomBytes(6).toString('hex')}`;
    try {
      const mounts = await graph.view(key, layerKey(chain));
      await withMounted(mounts, fn);
    } finally {
      await graph.remove(key).catch(() => {});
    }
  }

  // ── RUN ──

  private async run(state: StageState, json: boolean, args: string[]): Promise<void> {
    if (!state.image) throw new InvalidParameterError('Please provide a source image with `from` prior to run');
    const shell = state.config.Shell ?? DEFAULT_SHELL;
    if (!json && args.length === 0) throw new InvalidParameterError('RUN requires at least one argument');
    const cmd = json ? args : [...shell, ...args];
    const declared = this.argEnv(state);
    const declaredKeys = new Set(state.args.keys());
    const proxies = this.args.proxyEnv().filter((e) => !declaredKeys.has(e.split('=', 1)[0]!));
    const recorded = declared.filter(
      (e) => !PROXY_ARGS.has(e.split('=', 1)[0]!) || declaredKeys.has(e.split('=', 1)[0]!),
    );
    const saveCmd = recorded.length > 0 ? [`|${recorded.length}`, ...[...recorded].sort(), ...cmd] : cmd;
    const createdBy = saveCmd.join(' ');
    const canonical = `RUN\n${JSON.stringify(saveCmd)}\n${JSON.stringify(state.config)}`;
    if (this.fromCache(state, canonical)) return;

    const { containers } = this.deps;
    const c = state.config;
    const created = await containers.create({
      Image: state.image.id,
      Cmd: cmd,
      Entrypoint: [],
      Env: [...(c.Env ?? []), ...declared, ...proxies],
      User: c.User ?? '',
      WorkingDir: c.WorkingDir ?? '',
      Labels: {},
      Healthcheck: { Test: ['NONE'] },
      AttachStdout: true,
      AttachStderr: true,
      HostConfig: { ...this.opts.runHostConfig, NetworkMode: this.opts.networkMode || 'default' },
    });
    const id = created.Id;
    this.out.text(` ---> Running in ${short(id)}\n`);
    let ok = false;
    try {
      const code = await this.runContainer(id);
      if (code !== 0) throw new StepFailedError(cmd.join(' '), code);
      await containers.settled(id);
      const parts = this.deps.images.local;
      const parentChain = state.image.layers.at(-1)?.chainId;
      const layer = await withImageLock(this.deps.images, () =>
        withSnapshotDiff(parts.graph, id, (tar: Readable) =>
          commitLayer(parts, parentChain, dropHidden(tar), `of build container ${short(id)}`),
        ),
      );
      await this.commit(state, canonical, createdBy, saveCmd, layer, id);
      ok = true;
    } finally {
      if ((ok && this.opts.rm) || (!ok && this.opts.forceRm)) {
        if (ok) this.out.text(`Removing intermediate container ${short(id)}\n`);
        // Removed while the next step runs; build() waits for it before it reports success.
        this.cleanups.push(
          containers
            .remove(id, { force: true, volumes: true })
            .catch((err: unknown) =>
              this.deps.log.warn('could not remove a build container', { id, error: (err as Error).message }),
            ),
        );
      }
    }
  }

  /** Starts the build container with its output going to the build stream; resolves with its exit code. */
  private async runContainer(id: string): Promise<number> {
    const { containers } = this.deps;
    // Multi-byte characters may straddle chunks: one decoder per stream.
    const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
    containers.attach(id, {
      write: (entry) => this.out.text(decoders[entry.stream].write(entry.data)),
      end: () => {
        this.out.text(decoders.stdout.end() + decoders.stderr.end());
      },
    });
    const onAbort = () => void containers.kill(id, 'KILL').catch(() => {});
    this.checkAborted();
    this.opts.signal.addEventListener('abort', onAbort, { once: true });
    try {
      await containers.start(id);
      // The client may have gone while the container started.
      if (this.opts.signal.aborted) onAbort();
      const res = await containers.wait(id, 'not-running').catch((err: unknown) => {
        if (err instanceof NotFoundError)
          throw new Error(`the build container ${short(id)} was removed while it ran`, { cause: err });
        throw err;
      });
      this.checkAborted();
      return res.StatusCode;
    } finally {
      this.opts.signal.removeEventListener('abort', onAbort);
    }
  }
}
