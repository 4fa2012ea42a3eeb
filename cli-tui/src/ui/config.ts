// ~/.config/skiff/ui.yml: key bindings, colours, mouse, confirmations, log defaults and named
// endpoints. Every key is optional and merged over the defaults; a bad value is a ConfigError
// naming the key (lazydocker's loader silently wiped defaults on an empty key). Example:
//
//   keybindings:          # action: key or [keys]; actions and defaults are listed by `?`
//     stop: [s, ctrl+s]
//     quit: Q
//   colors: { accent: magenta, selected: "#3366cc" }   # accent selected marked error dim match
//   mouse: true
//   confirm: [stop, restart, kill, remove, prune]      # actions that ask first
//   logs: { timestamps: false, wrap: false }
//   endpoints:            # for `:host NAME`
//     - { name: prod, host: "tcp://10.0.0.5:2376" }

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { applyOverrides, type Binding, DEFAULT_BINDINGS, KeymapError } from './keymap.js';
import type { EngineAction } from './state.js';

export interface Colors {
  accent: string;
  selected: string;
  marked: string;
  error: string;
  dim: string;
  match: string;
}

export interface UiConfig {
  bindings: Binding[];
  colors: Colors;
  mouse: boolean;
  confirm: Set<EngineAction>;
  logs: { timestamps: boolean; wrap: boolean };
  endpoints: { name: string; host: string }[];
  path?: string;
}

export class ConfigError extends Error {
  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = 'ConfigError';
  }
}

export const DEFAULT_COLORS: Colors = {
  accent: 'cyan',
  selected: 'blue',
  marked: 'yellow',
  error: 'red',
  dim: 'gray',
  match: 'yellow',
};

const COLOR_NAMES = new Set([
  'black',
  'red',
  'green',
  'yellow',
  'blue',
  'magenta',
  'cyan',
  'white',
  'gray',
  'grey',
  'blackBright',
  'redBright',
  'greenBright',
  'yellowBright',
  'blueBright',
  'magentaBright',
  'cyanBright',
  'whiteBright',
]);

const CONFIRMABLE: readonly EngineAction[] = [
  'start',
  'stop',
  'restart',
  'pause',
  'unpause',
  'kill',
  'remove',
  'prune',
];
const DEFAULT_CONFIRM: readonly EngineAction[] = ['stop', 'restart', 'kill', 'remove', 'prune'];

export function defaultConfig(): UiConfig {
  return {
    bindings: [...DEFAULT_BINDINGS],
    colors: { ...DEFAULT_COLORS },
    mouse: true,
    confirm: new Set(DEFAULT_CONFIRM),
    logs: { timestamps: false, wrap: false },
    endpoints: [],
  };
}

/** Where ui.yml lives: $SKIFF_UI_CONFIG, else $XDG_CONFIG_HOME/skiff/ui.yml, else ~/.config/skiff/ui.yml. */
export function configPath(env: NodeJS.ProcessEnv): string {
  if (env.SKIFF_UI_CONFIG) return env.SKIFF_UI_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(env.HOME ?? '/root', '.config');
  return join(base, 'skiff', 'ui.yml');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function bool(file: string, key: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new ConfigError(file, `${key} must be true or false`);
  return v;
}

/** Parses the text of a ui.yml over the defaults. */
export function parseConfig(text: string, file = 'ui.yml'): UiConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(file, `invalid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const cfg = defaultConfig();
  cfg.path = file;
  if (doc === null || doc === undefined) return cfg;
  if (!isRecord(doc)) throw new ConfigError(file, 'the document must be a mapping');
  const known = new Set(['keybindings', 'colors', 'mouse', 'confirm', 'logs', 'endpoints']);
  for (const key of Object.keys(doc)) if (!known.has(key)) throw new ConfigError(file, `unknown key "${key}"`);

  if (doc.keybindings !== undefined && doc.keybindings !== null) {
    if (!isRecord(doc.keybindings)) throw new ConfigError(file, 'keybindings must map actions to keys');
    const overrides: Record<string, string | string[]> = {};
    for (const [action, keys] of Object.entries(doc.keybindings)) {
      const list = Array.isArray(keys) ? keys : [keys];
      if (list.length === 0 || !list.every((k) => typeof k === 'string' || typeof k === 'number')) {
        throw new ConfigError(file, `keybindings.${action} must be a key or a list of keys`);
      }
      overrides[action] = list.map(String);
    }
    try {
      cfg.bindings = applyOverrides(cfg.bindings, overrides);
    } catch (err) {
      if (err instanceof KeymapError) throw new ConfigError(file, `keybindings: ${err.message}`);
      throw err;
    }
  }
  if (doc.colors !== undefined && doc.colors !== null) {
    if (!isRecord(doc.colors)) throw new ConfigError(file, 'colors must be a mapping');
    for (const [name, value] of Object.entries(doc.colors)) {
      if (!(name in cfg.colors)) {
        throw new ConfigError(file, `unknown colour "${name}" (${Object.keys(DEFAULT_COLORS).join(', ')})`);
      }
      if (typeof value !== 'string' || !(COLOR_NAMES.has(value) || /^#[0-9a-fA-F]{6}$/.test(value))) {
        throw new ConfigError(file, `colors.${name}: "${String(value)}" is not a colour name or #rrggbb`);
      }
      cfg.colors[name as keyof Colors] = value;
    }
  }
  if (doc.mouse !== undefined) cfg.mouse = bool(file, 'mouse', doc.mouse);
  if (doc.confirm !== undefined) {
    if (!Array.isArray(doc.confirm)) throw new ConfigError(file, 'confirm must be a list of actions');
    const set = new Set<EngineAction>();
    for (const a of doc.confirm) {
      if (!CONFIRMABLE.includes(a as EngineAction)) {
        throw new ConfigError(file, `confirm: unknown action "${String(a)}" (${CONFIRMABLE.join(', ')})`);
      }
      set.add(a as EngineAction);
    }
    cfg.confirm = set;
  }
  if (doc.logs !== undefined && doc.logs !== null) {
    if (!isRecord(doc.logs)) throw new ConfigError(file, 'logs must be a mapping');
    for (const [k, v] of Object.entries(doc.logs)) {
      if (k !== 'timestamps' && k !== 'wrap') throw new ConfigError(file, `logs: unknown key "${k}"`);
      cfg.logs[k] = bool(file, `logs.${k}`, v);
    }
  }
  if (doc.endpoints !== undefined && doc.endpoints !== null) {
    if (!Array.isArray(doc.endpoints)) throw new ConfigError(file, 'endpoints must be a list of {name, host}');
    for (const [i, e] of doc.endpoints.entries()) {
      if (!isRecord(e) || typeof e.name !== 'string' || typeof e.host !== 'string' || e.name === '') {
        throw new ConfigError(file, `endpoints[${i}] needs a name and a host`);
      }
      cfg.endpoints.push({ name: e.name, host: e.host });
    }
  }
  return cfg;
}

/** Reads ui.yml if it exists; defaults otherwise. */
export function loadConfig(env: NodeJS.ProcessEnv): UiConfig {
  const file = configPath(env);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return defaultConfig();
    throw new ConfigError(file, (err as Error).message);
  }
  return parseConfig(text, file);
}
