// A port of Go's text/tabwriter (left-aligned, space padding), which the docker CLI uses
// for its tables and for `docker version`. Cells are separated by '\t'; the text after
// the last tab of a line is a trailing cell and is never padded.

export interface TabwriterOptions {
  minWidth: number;
  padding: number;
}

/** docker's table writer: tabwriter.NewWriter(out, 10, 1, 3, ' ', 0). */
export const TABLE_OPTIONS: TabwriterOptions = { minWidth: 10, padding: 3 };
/** `docker version`: tabwriter.NewWriter(out, 20, 1, 1, ' ', 0). */
export const VERSION_OPTIONS: TabwriterOptions = { minWidth: 20, padding: 1 };

function width(text: string): number {
  return [...text].length;
}

/** Formats `lines` (each may contain tabs) and returns the text with a trailing newline per line. */
export function tabwrite(lines: readonly string[], options: TabwriterOptions): string {
  const cells = lines.map((line) => line.split('\t'));
  const widths: number[] = [];
  const out: string[] = [];

  const writeLines = (line0: number, line1: number): void => {
    for (let i = line0; i < line1; i++) {
      const line = cells[i] ?? [];
      let text = '';
      line.forEach((cell, j) => {
        text += cell;
        const w = widths[j];
        if (w !== undefined) text += ' '.repeat(Math.max(0, w - width(cell)));
      });
      out.push(text);
    }
  };

  const format = (line0: number, line1: number): void => {
    const column = widths.length;
    for (let current = line0; current < line1; current++) {
      if (column >= (cells[current]?.length ?? 0) - 1) continue;
      writeLines(line0, current);
      line0 = current;
      let w = options.minWidth;
      for (; current < line1; current++) {
        const line = cells[current] ?? [];
        if (column >= line.length - 1) break;
        w = Math.max(w, width(line[column] ?? '') + options.padding);
      }
      widths.push(w);
      format(line0, current);
      widths.pop();
      // `current` is the first line after the block; it has no cell in this column, so
      // the loop's increment may skip it (as Go's does): it is written with the rest.
      line0 = current;
    }
    writeLines(line0, line1);
  };

  format(0, cells.length);
  return out.map((l) => `${l}\n`).join('');
}
