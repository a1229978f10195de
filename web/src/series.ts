// The server's downsampled history ([ts, min, max, mean, count] buckets) as chart columns. Pure.

import type { HistoryResponse } from './types.js';

export type Range = '1h' | '24h' | '7d' | '30d';
export const RANGES: { range: Range; label: string }[] = [
  { range: '1h', label: '1 h' },
  { range: '24h', label: '24 h' },
  { range: '7d', label: '7 d' },
  { range: '30d', label: '30 d' },
];

export function isRange(value: string | null | undefined): value is Range {
  return RANGES.some((r) => r.range === value);
}

/** Columns for uPlot: x in seconds, then min, max and mean; null breaks the line. */
export type Columns = [number[], (number | null)[], (number | null)[], (number | null)[]];

/** A gap longer than this many buckets is drawn as a gap, not a straight line across it. */
const GAP_BUCKETS = 2.5;

export function toColumns(history: Pick<HistoryResponse, 'points' | 'bucket_ms'>): Columns {
  const xs: number[] = [];
  const mins: (number | null)[] = [];
  const maxs: (number | null)[] = [];
  const means: (number | null)[] = [];
  const points = [...history.points].sort((a, b) => a[0] - b[0]);
  let previous: number | undefined;
  for (const [ts, min, max, mean, count] of points) {
    if (previous !== undefined && history.bucket_ms > 0 && ts - previous > GAP_BUCKETS * history.bucket_ms) {
      xs.push((previous + history.bucket_ms) / 1000);
      mins.push(null);
      maxs.push(null);
      means.push(null);
    }
    const empty = count === 0;
    xs.push(ts / 1000);
    mins.push(empty ? null : num(min));
    maxs.push(empty ? null : num(max));
    means.push(empty ? null : num(mean));
    previous = ts;
  }
  return [xs, mins, maxs, means];
}

function num(v: number | null | boolean): number | null {
  if (typeof v === 'boolean') return v ? 1 : 0;
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export interface Summary {
  min: number;
  max: number;
  mean: number;
  readings: number;
}

/** The range's lowest, highest and count-weighted mean, or null without readings. */
export function summarize(history: Pick<HistoryResponse, 'points'>): Summary | null {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let sum = 0;
  let readings = 0;
  for (const [, lo, hi, mean, count] of history.points) {
    if (count <= 0 || typeof mean !== 'number' || typeof lo !== 'number' || typeof hi !== 'number') continue;
    min = Math.min(min, lo);
    max = Math.max(max, hi);
    sum += mean * count;
    readings += count;
  }
  return readings === 0 ? null : { min, max, mean: sum / readings, readings };
}

/** Indices of values with no value on either side (nothing to join them to). */
export function isolated(
  u: { data: readonly ArrayLike<number | null | undefined>[] },
  seriesIdx: number,
): number[] {
  const ys = u.data[seriesIdx] ?? [];
  const lone: number[] = [];
  for (let i = 0; i < ys.length; i++) {
    if (ys[i] == null) continue;
    if (ys[i - 1] == null && ys[i + 1] == null) lone.push(i);
  }
  return lone;
}
