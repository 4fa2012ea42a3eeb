// Screen geometry of the dashboard (shared by the view and the mouse hit-testing) and the `?`
// help laid out in columns.

import { fit } from './lists.js';
import type { Keymap } from './keymap.js';
import type { Layout, UiState } from './state.js';
import { isListPanel, PANEL_TITLES, PANELS, TAB_TITLES, tabsFor } from './types.js';

export function computeLayout(columns: number, rows: number, panel: UiState['panel'], fullscreen = false): Layout {
  const panelTitles: Layout['panelTitles'] = [];
  let x = 1 + ' skiff '.length;
  for (const [i, p] of PANELS.entries()) {
    const label = ` ${i + 1} ${PANEL_TITLES[p]} `;
    panelTitles.push({ panel: p, x0: x, x1: x + label.length });
    x += label.length;
  }
  const listWidth = isListPanel(panel) && !fullscreen ? Math.max(30, Math.floor(columns * 0.5)) : 0;
  const tabTitles: Layout['tabTitles'] = [];
  let tx = listWidth > 0 ? listWidth + 2 : 1;
  for (const t of tabsFor(panel)) {
    const label = ` ${TAB_TITLES[t]} `;
    tabTitles.push({ tab: t, x0: tx, x1: tx + label.length });
    tx += label.length;
  }
  // One spare row below the status line: a frame as tall as the terminal scrolls it (ink#450).
  return { panelRow: 1, panelTitles, tabRow: 2, tabTitles, bodyTop: 3, bodyHeight: Math.max(1, rows - 4), listWidth };
}

const PALETTE_HELP = [
  'Command palette (:)',
  '  containers images volumes networks events engine',
  '  start stop restart pause unpause kill rm prune',
  '  filter TEXT   sort COLUMN [desc]   host NAME|URL   pull IMAGE   quit',
];

/** `?`: the keymap's help laid out in as many columns as fit, scrolled by `scroll` lines. */
export function helpColumns(keymap: Keymap, scroll: number, width: number, height: number): string[] {
  const lines = [...keymap.helpLines(), '', ...PALETTE_HELP];
  const colWidth = 56;
  const cols = Math.max(1, Math.floor(width / colWidth));
  const perCol = Math.max(1, height);
  const maxScroll = Math.max(0, lines.length - cols * perCol);
  const shown = lines.slice(Math.min(scroll, maxScroll));
  const out: string[] = [];
  for (let row = 0; row < perCol; row++) {
    let text = '';
    for (let c = 0; c < cols; c++)
      text += fit(shown[c * perCol + row] ?? '', c === cols - 1 ? width - c * colWidth : colWidth);
    out.push(text);
  }
  return out;
}
