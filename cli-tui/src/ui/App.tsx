// The dashboard: a panel bar, the windowed list on the left, the tabbed main panel on the right and
// a status line. All input goes through `reduce`; only the visible rows and lines are rendered.

import { Box, Text, useApp, useInput, useWindowSize } from 'ink';
import { type ReactNode, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import type { ApiClient } from '../api/client.js';
import type { UiConfig } from './config.js';
import { engineLines, envLines, eventsLines, jsonLines, statsLines, topLines } from './content.js';
import type { DetailStore, DetailTarget } from './detail-store.js';
import type { EngineSnapshot, EngineStore } from './engine-store.js';
import { type InputEvent, type MouseEvent, normalizeInput } from './input.js';
import { Keymap } from './keymap.js';
import { computeLayout, helpColumns } from './layout.js';
import { Highlighted, ListPanel } from './list-panel.js';
import { findMatches, layoutLogs } from './log-buffer.js';
import { buildView, columnsOf, fit, formatRow, type Item, itemsOf, type ListView } from './lists.js';
import { type Effect, type Env, initialState, reduce, selectedItemId, type UiState } from './state.js';
import { isListPanel, type ListPanelId, LIST_PANELS, PANEL_TITLES, PANELS, TAB_TITLES } from './types.js';

export interface EffectOutcome {
  text: string;
  error: boolean;
}

export interface AppProps {
  engine: EngineStore;
  detail: DetailStore;
  config: UiConfig;
  /** Runs engine actions, pulls and endpoint switches; resolves with the message to show. */
  runEffect(
    effect: Effect,
    nameOf: (id: string) => string,
    progress: (text: string) => void,
  ): Promise<EffectOutcome | undefined>;
  /** Runs an interactive shell while Ink has released the terminal. */
  execShell?(client: ApiClient, id: string): Promise<void>;
  /** Turns the terminal's mouse reporting on or off (copy mode). */
  setMouse?(on: boolean): void;
  /** Subscribes to mouse reports (taken out of the input before Ink sees it). */
  onMouse?(listener: (m: MouseEvent) => void): () => void;
  /** Fixed size (tests, benchmark); otherwise the terminal's. */
  size?: { columns: number; rows: number };
  /** Clock for relative times (tests). */
  now?: () => number;
}

interface Derived {
  views: Record<ListPanelId, ListView>;
}

function useDerived(snap: EngineSnapshot, state: UiState, now: number): Derived {
  // Relative times change by the minute: memoise on that, not on every frame.
  const minute = Math.floor(now / 60_000) * 60_000;
  const items = {
    containers: useMemo(() => itemsOf('containers', snap, minute), [snap.containers, minute]),
    images: useMemo(() => itemsOf('images', snap, minute), [snap.images, minute]),
    volumes: useMemo(() => itemsOf('volumes', snap, minute), [snap.volumes, minute]),
    networks: useMemo(() => itemsOf('networks', snap, minute), [snap.networks, minute]),
  } satisfies Record<ListPanelId, Item[]>;
  const opts = (p: ListPanelId): Parameters<typeof buildView>[2] => ({
    filter: state.filter[p],
    sort: state.sort[p],
    hideStopped: p === 'containers' && state.hideStopped,
  });
  const views = {
    containers: useMemo(
      () => buildView('containers', items.containers, opts('containers')),
      [items.containers, state.filter.containers, state.sort.containers, state.hideStopped],
    ),
    images: useMemo(
      () => buildView('images', items.images, opts('images')),
      [items.images, state.filter.images, state.sort.images],
    ),
    volumes: useMemo(
      () => buildView('volumes', items.volumes, opts('volumes')),
      [items.volumes, state.filter.volumes, state.sort.volumes],
    ),
    networks: useMemo(
      () => buildView('networks', items.networks, opts('networks')),
      [items.networks, state.filter.networks, state.sort.networks],
    ),
  };
  return { views };
}

export function App(props: AppProps) {
  const { engine, detail, config } = props;
  const app = useApp();
  const windowSize = useWindowSize();
  const size = props.size ?? { columns: windowSize.columns || 80, rows: windowSize.rows || 24 };
  const snap = useSyncExternalStore(engine.subscribe, engine.getSnapshot);
  const det = useSyncExternalStore(detail.subscribe, detail.getSnapshot);
  const keymap = useMemo(() => new Keymap(config.bindings), [config.bindings]);
  const stateRef = useRef<UiState | null>(null);
  if (stateRef.current === null) {
    const s = initialState();
    stateRef.current = { ...s, logs: { ...s.logs, ...config.logs }, mouse: config.mouse };
  }
  const [, setTick] = useState(0);
  const rerender = (): void => setTick((t) => t + 1);
  const state = stateRef.current;
  const now = (props.now ?? Date.now)();
  const { views } = useDerived(snap, state, now);
  const layout = computeLayout(size.columns, size.rows, state.panel, state.fullscreen);
  const mainWidth = size.columns - layout.listWidth - (layout.listWidth > 0 ? 1 : 0);

  // The selected item and what the main panel shows for it.
  const panel = state.panel;
  const selectedId = isListPanel(panel) ? selectedItemId(state, panel, views[panel]) : undefined;
  const tab = isListPanel(panel) ? state.tab[panel] : undefined;
  const container = panel === 'containers' ? snap.containers.find((c) => c.Id === selectedId) : undefined;
  const running = container?.State === 'running';
  const target: DetailTarget | undefined =
    isListPanel(panel) && selectedId && tab ? { panel, id: selectedId, tab, running } : undefined;
  const api = engine.api;
  useEffect(() => {
    detail.focus(api, target);
  }, [api, target?.panel, target?.id, target?.tab, target?.running]);
  useEffect(() => () => detail.close(), [detail]);

  const mainLines: string[] = useMemo(() => {
    if (panel === 'events') return eventsLines(snap.events);
    if (panel === 'engine') return engineLines(snap);
    if (!target || det.key === '') return [];
    if (det.error && tab !== 'logs') return [det.error];
    switch (tab) {
      case 'logs':
        return layoutLogs(det.logs, { timestamps: state.logs.timestamps, wrap: state.logs.wrap, width: mainWidth });
      case 'stats':
        return statsLines(det.stats, mainWidth);
      case 'env':
        return det.inspect === undefined ? [] : envLines(det.inspect);
      case 'top':
        return topLines(det.top);
      default:
        return jsonLines(det.inspect);
    }
  }, [
    panel,
    tab,
    det,
    snap.events,
    snap.version,
    snap.info,
    snap.plugins,
    snap.status,
    state.logs.timestamps,
    state.logs.wrap,
    mainWidth,
    target?.id,
  ]);
  const search = tab === 'logs' ? state.logs.search : '';
  const matchLines = useMemo(() => findMatches(mainLines, search), [mainLines, search]);

  const env: Env = {
    keymap,
    views,
    mainLines: mainLines.length,
    matchLines: (needle) => (needle === search ? matchLines : findMatches(mainLines, needle)),
    containerState: (id) => snap.containers.find((c) => c.Id === id)?.State,
    layout,
    confirm: config.confirm,
  };
  const envRef = useRef(env);
  envRef.current = env;

  const nameOf = (id: string): string => {
    for (const p of LIST_PANELS) {
      const item = envRef.current.views[p].items.find((i) => i.id === id);
      if (item) return p === 'containers' || p === 'volumes' ? (item.cells[1] ?? id) : (item.cells[0] ?? id);
    }
    return id.slice(0, 12);
  };

  const handleEffect = (effect: Effect): void => {
    if (effect.type === 'quit') {
      app.exit();
      return;
    }
    if (effect.type === 'mouse') {
      props.setMouse?.(effect.on);
      return;
    }
    if (effect.type === 'exec') {
      const client = engine.api;
      if (!client || !props.execShell) return;
      const exec = props.execShell;
      void app
        .suspendTerminal(() => exec(client, effect.id))
        .catch((err: unknown) => {
          stateRef.current = {
            ...(stateRef.current as UiState),
            message: { text: String((err as Error).message ?? err), error: true },
          };
          rerender();
        });
      return;
    }
    const pending =
      effect.type === 'action'
        ? `${effect.action}…`
        : effect.type === 'pull'
          ? `pulling ${effect.ref}…`
          : `connecting to ${effect.target}…`;
    const show = (text: string, error = false): void => {
      stateRef.current = { ...(stateRef.current as UiState), message: { text, error } };
    };
    show(pending);
    const progress = (text: string): void => {
      show(text);
      rerender();
    };
    void props.runEffect(effect, nameOf, progress).then((outcome) => {
      if (outcome) stateRef.current = { ...(stateRef.current as UiState), message: outcome };
      rerender();
    });
  };

  const dispatch = (events: readonly InputEvent[]): void => {
    let s = stateRef.current as UiState;
    const effects: Effect[] = [];
    for (const ev of events) {
      const r = reduce(s, ev, envRef.current);
      s = r.state;
      effects.push(...r.effects);
    }
    stateRef.current = s;
    for (const e of effects) handleEffect(e);
    rerender();
  };
  const dispatchRef = useRef(dispatch);
  dispatchRef.current = dispatch;
  useInput((input, key) => dispatch(normalizeInput(input, key)));
  const { onMouse } = props;
  useEffect(() => onMouse?.((m) => dispatchRef.current([{ type: 'mouse', mouse: m }])), [onMouse]);

  // ---- render ----
  const colors = config.colors;
  const bodyHeight = layout.bodyHeight;
  const statusDot = snap.status === 'connected' ? '●' : snap.status === 'down' ? '✕' : '…';
  const statusColor = snap.status === 'connected' ? 'green' : snap.status === 'down' ? colors.error : colors.dim;

  const panelBar = (
    <Box width={size.columns} height={1}>
      <Text bold color={colors.accent}>
        {' skiff '}
      </Text>
      {PANELS.map((p, i) => (
        <Text key={p} inverse={p === panel} color={p === panel ? colors.accent : undefined}>
          {` ${i + 1} ${PANEL_TITLES[p]} `}
        </Text>
      ))}
      <Text color={statusColor}>
        {fit(` ${statusDot} ${snap.endpoint}`, Math.max(0, size.columns - (layout.panelTitles.at(-1)?.x1 ?? 0) + 1))}
      </Text>
    </Box>
  );

  let listHeader = '';
  if (isListPanel(panel)) {
    const cols = columnsOf(panel);
    const sort = state.sort[panel];
    const titles = cols.map((c) => (c.key === sort.column ? `${c.title}${sort.reverse ? 'v' : '^'}` : c.title));
    listHeader = `  ${formatRow(
      titles,
      cols.map((c) => c.width),
      layout.listWidth - 2,
    )}`;
  }
  const tabBar = (
    <Box width={size.columns} height={1}>
      {layout.listWidth > 0 ? (
        <Text color={colors.dim} bold>
          {fit(listHeader, layout.listWidth)}
        </Text>
      ) : null}
      {layout.listWidth > 0 ? <Text> </Text> : null}
      {layout.tabTitles.map((t) => (
        <Text key={t.tab} inverse={t.tab === tab} color={t.tab === tab ? colors.accent : undefined}>
          {` ${TAB_TITLES[t.tab]} `}
        </Text>
      ))}
      {layout.listWidth === 0 ? <Text bold color={colors.accent}>{` ${PANEL_TITLES[panel]}`}</Text> : null}
    </Box>
  );

  // Main panel window.
  const maxTop = Math.max(0, mainLines.length - bodyHeight);
  const mainTop = state.mainScroll === 'end' ? maxTop : Math.min(state.mainScroll, maxTop);
  let mainBody: ReactNode[];
  const helpMode = state.mode.kind === 'help';
  if (state.mode.kind === 'help') {
    mainBody = helpColumns(keymap, state.mode.scroll, size.columns, bodyHeight).map((l, i) => <Text key={i}>{l}</Text>);
  } else {
    mainBody = mainLines.slice(mainTop, mainTop + bodyHeight).map((l, i) => {
      const text = fit(l, mainWidth);
      return search ? (
        <Highlighted key={i} text={text} needle={search} color={colors.match} />
      ) : (
        <Text key={i}>{text}</Text>
      );
    });
    if (mainLines.length === 0 && target) {
      mainBody.push(
        <Text key="loading" color={colors.dim}>
          {det.loading ? 'loading…' : tab === 'logs' ? '(no log output yet)' : ''}
        </Text>,
      );
    }
    if (tab === 'logs' && det.error)
      mainBody.push(
        <Text key="err" color={colors.error}>
          {fit(det.error, mainWidth)}
        </Text>,
      );
  }

  // Status line: prompt of the current mode, else the last message, else hints.
  const mode = state.mode;
  let status: ReactNode;
  if (mode.kind === 'filter') status = <Text color={colors.accent}>{fit(`filter: ${mode.text}▏`, size.columns)}</Text>;
  else if (mode.kind === 'search')
    status = <Text color={colors.accent}>{fit(`search: ${mode.text}▏`, size.columns)}</Text>;
  else if (mode.kind === 'palette') status = <Text color={colors.accent}>{fit(`:${mode.text}▏`, size.columns)}</Text>;
  else if (mode.kind === 'confirm')
    status = (
      <Text color={colors.marked} bold>
        {fit(`${mode.message} [y/N]`, size.columns)}
      </Text>
    );
  else if (state.message)
    status = <Text color={state.message.error ? colors.error : 'green'}>{fit(state.message.text, size.columns)}</Text>;
  else if (snap.status === 'down')
    status = (
      <Text color={colors.error}>{fit(`engine unreachable: ${snap.error ?? ''} — retrying`, size.columns)}</Text>
    );
  else {
    const k = (a: Parameters<Keymap['keyFor']>[0]): string => keymap.keyFor(a);
    const follow = tab === 'logs' ? (state.mainScroll === 'end' ? ' [follow]' : ' [paused]') : '';
    const flags =
      tab === 'logs'
        ? `${state.logs.timestamps ? ' [ts]' : ''}${state.logs.wrap ? ' [wrap]' : ''}${search ? ` [/${search} ${matchLines.length}]` : ''}`
        : '';
    const filter = isListPanel(panel) && state.filter[panel] ? ` [filter: ${state.filter[panel]}]` : '';
    const marks = isListPanel(panel) && state.marks[panel].length > 0 ? ` [${state.marks[panel].length} marked]` : '';
    const actions =
      state.focus !== 'list' || !isListPanel(panel)
        ? ''
        : panel === 'containers'
          ? `  ${k('start')} start  ${k('stop')} stop  ${k('restart')} restart  ${k('pause')} pause  ${k('remove')} rm  ${k('exec')} shell  ${k('mark')} mark`
          : `  ${k('remove')} rm  ${k('prune')} prune  ${k('mark')} mark`;
    const hints = `${k('quit')} quit  ${k('help')} help  ${k('filter')} filter  ${k('palette')} palette${filter}${marks}${follow}${flags}${actions}`;
    status = <Text color={colors.dim}>{fit(hints, size.columns)}</Text>;
  }

  return (
    <Box flexDirection="column" width={size.columns} height={size.rows - 1}>
      {panelBar}
      {tabBar}
      <Box height={bodyHeight} width={size.columns}>
        {isListPanel(panel) && !helpMode && layout.listWidth > 0 ? (
          <ListPanel
            panel={panel}
            view={views[panel]}
            state={state}
            width={layout.listWidth}
            height={bodyHeight}
            config={config}
            snap={snap}
          />
        ) : null}
        {layout.listWidth > 0 && !helpMode ? <Box width={1} /> : null}
        <Box flexDirection="column" width={helpMode ? size.columns : mainWidth} height={bodyHeight}>
          {mainBody}
        </Box>
      </Box>
      <Box height={1} width={size.columns}>
        {status}
      </Box>
    </Box>
  );
}
