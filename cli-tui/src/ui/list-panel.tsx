// The list panel: windowed rows as single pre-formatted strings, and search-match highlighting.

import { Box, Text } from 'ink';
import { memo } from 'react';
import type { UiConfig } from './config.js';
import type { EngineSnapshot } from './engine-store.js';
import { splitMatches } from './log-buffer.js';
import { columnsOf, fit, formatRow, lineOfItem, type ListView } from './lists.js';
import { selectedIndex, type UiState, visibleTop } from './state.js';
import type { ListPanelId } from './types.js';

function stateColor(state: string, colors: UiConfig['colors']): string | undefined {
  if (state === 'running') return 'green';
  if (state === 'paused' || state === 'restarting') return colors.marked;
  if (state === 'exited' || state === 'dead') return colors.error;
  return colors.dim;
}

const Row = memo(function Row(props: {
  text: string;
  /** Leading cells shown in their own colour (the container state), then the rest of `text`. */
  lead?: { width: number; color: string | undefined };
  selected: boolean;
  focused: boolean;
  marked: boolean;
  header: boolean;
  colors: UiConfig['colors'];
}) {
  const { text, lead, selected, focused, marked, header, colors } = props;
  if (lead && !header) {
    return (
      <Text
        inverse={selected && focused}
        color={selected && !focused ? colors.selected : marked ? colors.marked : undefined}
        bold={selected}
      >
        {text.slice(0, 2)}
        <Text color={lead.color}>{text.slice(2, 2 + lead.width)}</Text>
        {text.slice(2 + lead.width)}
      </Text>
    );
  }
  if (header)
    return (
      <Text color={colors.accent} bold>
        {text}
      </Text>
    );
  return (
    <Text
      inverse={selected && focused}
      color={selected && !focused ? colors.selected : marked ? colors.marked : undefined}
      bold={selected}
    >
      {text}
    </Text>
  );
});

export function ListPanel(props: {
  panel: ListPanelId;
  view: ListView;
  state: UiState;
  width: number;
  height: number;
  config: UiConfig;
  snap: EngineSnapshot;
}) {
  const { panel, view, state, width, height, config, snap } = props;
  const cursorIndex = selectedIndex(state, panel, view);
  const cursorLine = lineOfItem(view.lines, cursorIndex);
  const top = visibleTop(state, panel, view, cursorLine, height);
  const columns = columnsOf(panel);
  const widths = columns.map((c) => c.width);
  const marks = new Set(state.marks[panel]);
  const rows = view.lines.slice(top, top + height).map((line) => {
    if (line.kind === 'header') {
      const title = line.group === '' ? 'standalone' : `project ${line.group}`;
      return (
        <Row
          key={`h:${line.group}`}
          text={fit(`+ ${title} (${line.count})`, width)}
          selected={false}
          focused={false}
          marked={false}
          header
          colors={config.colors}
        />
      );
    }
    const marked = marks.has(line.item.id);
    const selected = line.index === cursorIndex;
    // Cursor and mark as characters too, so they show without colours (NO_COLOR).
    const prefix = (selected ? '>' : ' ') + (marked ? '*' : ' ');
    return (
      <Row
        key={line.item.id}
        // Only the selected row needs its padding (its highlight spans the row): fewer characters
        // for Ink to tokenize on every frame.
        text={
          selected
            ? prefix + formatRow(line.item.cells, widths, width - 2)
            : (prefix + formatRow(line.item.cells, widths, width - 2)).trimEnd()
        }
        lead={
          panel === 'containers'
            ? { width: widths[0] ?? 0, color: stateColor(line.item.cells[0] ?? '', config.colors) }
            : undefined
        }
        selected={selected}
        focused={state.focus === 'list'}
        marked={marked}
        header={false}
        colors={config.colors}
      />
    );
  });
  if (view.items.length === 0) {
    const empty =
      snap.status === 'down'
        ? 'cannot reach the engine — retrying…'
        : snap.status === 'connecting'
          ? 'connecting…'
          : state.filter[panel]
            ? `no ${panel} match "${state.filter[panel]}"`
            : `no ${panel}`;
    rows.push(
      <Text key="empty" color={config.colors.dim}>
        {fit(empty, width)}
      </Text>,
    );
  }
  return (
    <Box flexDirection="column" width={width} height={height}>
      {rows}
    </Box>
  );
}

export function Highlighted(props: { text: string; needle: string; color: string }) {
  const parts = splitMatches(props.text, props.needle);
  return (
    <Text>
      {parts.map((p, i) =>
        p.match ? (
          <Text key={i} backgroundColor={props.color} color="black">
            {p.text}
          </Text>
        ) : (
          p.text
        ),
      )}
    </Text>
  );
}
