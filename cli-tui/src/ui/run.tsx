// `skiff ui`: wires the stores, the config and the effects to the Ink app and owns the terminal
// modes (alternate screen via Ink, mouse reporting here) so they are restored on every exit path.

import { render } from 'ink';
import { ApiClient } from '../api/client.js';
import { registryAuthHeader } from '../commands/registry-auth.js';
import type { CommandContext } from '../commands/types.js';
import { type Endpoint, EndpointError, parseHost } from '../endpoint.js';
import { runAction } from './actions.js';
import { App, type EffectOutcome } from './App.js';
import { loadConfig, type UiConfig } from './config.js';
import { DetailStore } from './detail-store.js';
import { describeFailure, EngineStore } from './engine-store.js';
import { execShell } from './exec-shell.js';
import { MOUSE_OFF, MOUSE_ON } from './input.js';
import { TerminalInput } from './terminal-input.js';
import { pullReference, pullWithProgress } from './pull.js';
import type { Effect } from './state.js';

export class TerminalRequiredError extends Error {
  constructor() {
    super('skiff ui needs an interactive terminal (stdin and stdout must be a TTY)');
    this.name = 'TerminalRequiredError';
  }
}

/** Resolves `:host` targets: a configured endpoint name, else a host URL. */
export function resolveTarget(target: string, config: UiConfig): Endpoint {
  const named = config.endpoints.find((e) => e.name === target);
  return parseHost(named ? named.host : target);
}

export async function runDashboard(ctx: CommandContext): Promise<number> {
  const { stdin, stdout } = ctx.streams;
  if (!stdin.isTTY || !stdout.isTTY) throw new TerminalRequiredError();
  const config = loadConfig(ctx.env);
  const clientOptions = { userAgent: 'skiff-ui' };
  const first = ctx.client.endpoint;
  const engine = new EngineStore(() => new ApiClient(first, clientOptions), first.url);
  const detail = new DetailStore();

  const runEffect = async (
    effect: Effect,
    nameOf: (id: string) => string,
    progress: (text: string) => void,
  ): Promise<EffectOutcome | undefined> => {
    if (effect.type === 'host') {
      let endpoint: Endpoint;
      try {
        endpoint = resolveTarget(effect.target, config);
      } catch (err) {
        if (err instanceof EndpointError) return { text: err.message, error: true };
        throw err;
      }
      engine.switchEndpoint(() => new ApiClient(endpoint, clientOptions), endpoint.url);
      return { text: `switched to ${endpoint.url}`, error: false };
    }
    if (effect.type === 'quit' || effect.type === 'exec' || effect.type === 'mouse') return undefined;
    const client = engine.api;
    if (!client) return { text: 'the engine is unreachable', error: true };
    if (effect.type === 'pull') {
      try {
        const ref = pullReference(effect.ref);
        const summary = await pullWithProgress(client, ref, await registryAuthHeader(ctx, ref), progress);
        return { text: summary, error: false };
      } catch (err) {
        return { text: describeFailure(err), error: true };
      }
    }
    const outcome = await runAction(client, effect.action, effect.panel, effect.ids, nameOf);
    return { text: outcome.message, error: !outcome.ok };
  };

  // Wanted state (M toggles it); suspended around an exec session.
  let mouseOn = config.mouse;
  const mouse = (on: boolean): void => {
    stdout.write(on ? MOUSE_ON : MOUSE_OFF);
  };
  const shell = async (client: ApiClient, id: string): Promise<void> => {
    mouse(false);
    try {
      stdout.write(`\r\nskiff: shell in ${id.slice(0, 12)} (exit the shell to return to the dashboard)\r\n`);
      await execShell(client, id, { input, stdout, hooks: ctx.hooks });
    } finally {
      if (mouseOn) mouse(true);
    }
  };

  const input = new TerminalInput(stdin);
  engine.start();
  const instance = render(
    <App
      engine={engine}
      detail={detail}
      config={config}
      runEffect={runEffect}
      execShell={shell}
      onMouse={(l) => input.onMouse(l)}
      setMouse={(on) => {
        mouseOn = on;
        mouse(on);
      }}
    />,
    {
      stdin: input.inkStdin as unknown as NodeJS.ReadStream,
      stdout: stdout as NodeJS.WriteStream,
      stderr: ctx.streams.stderr as NodeJS.WriteStream,
      exitOnCtrlC: false,
      patchConsole: false,
      alternateScreen: true,
      // We checked for a TTY: render even where CI=true would make Ink print only the last frame.
      interactive: true,
      incrementalRendering: true,
      maxFps: 30,
    },
  );
  if (mouseOn) mouse(true);
  const onSignal = (): void => instance.unmount();
  ctx.hooks.on('SIGTERM', onSignal);
  try {
    await instance.waitUntilExit();
  } finally {
    ctx.hooks.off('SIGTERM', onSignal);
    mouse(false);
    input.close();
    detail.close();
    engine.stop();
  }
  return 0;
}
