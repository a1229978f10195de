// Result tables: markdown-ish, aligned, for stdout.

/** A `span` cell takes the rest of its row (for "unavailable: <reason>") and does not widen columns. */
export type Cell = string | number | undefined | { span: string };

/** `rightAligned[i]`: column i holds numbers. */
export function formatTable(headers: string[], rows: Cell[][], rightAligned: boolean[]): string {
  const spanAt = (row: Cell[]) => row.findIndex((cell) => typeof cell === 'object');
  const text = (row: Cell[], i: number) => {
    const cell = row[i];
    return cell === undefined || typeof cell === 'object' ? '' : String(cell);
  };
  const widths = headers.map((header, i) =>
    Math.max(
      header.length,
      ...rows.map((row) => (spanAt(row) === -1 || i < spanAt(row) ? text(row, i).length : 0)),
    ),
  );
  const pad = (cell: string, i: number) =>
    rightAligned[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!);
  const line = (row: Cell[]) => {
    const span = spanAt(row);
    const cells = headers.map((_, i) => i).filter((i) => span === -1 || i < span);
    const padded = cells.map((i) => pad(text(row, i), i));
    if (span !== -1) padded.push((row[span] as { span: string }).span);
    return `| ${padded.join(' | ')} |`;
  };
  const rule = `| ${widths.map((width, i) => (rightAligned[i] ? `${'-'.repeat(width - 1)}:` : '-'.repeat(width))).join(' | ')} |`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

export function formatRate(perSecond: number | undefined): string | undefined {
  return perSecond === undefined ? undefined : Math.round(perSecond).toLocaleString('en-US');
}

export function formatMs(ms: number | undefined): string | undefined {
  if (ms === undefined) return undefined;
  return ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : ms.toFixed(0);
}

export function formatRatio(ratio: number | undefined): string | undefined {
  if (ratio === undefined || !Number.isFinite(ratio)) return undefined;
  return `${ratio < 10 ? ratio.toFixed(2) : ratio.toFixed(1)}×`;
}

export const ratioOf = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined || b === undefined || b === 0 ? undefined : a / b;

/** The middle value (the mean of the two middle ones for an even count); undefined for none. */
export function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
