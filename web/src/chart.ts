// The history chart on uPlot: the mean as a line, min–max as a band. Loaded only by the
// history page (a dynamic import), so the dashboard does not carry uPlot.
import uPlot from 'uplot';
import { type Columns, isolated } from './series.js';

export interface ChartOptions {
  width: number;
  height: number;
  unit?: string | undefined;
  label: string;
}

function colour(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

export function drawHistory(target: HTMLElement, columns: Columns, o: ChartOptions): uPlot {
  const text = colour('--muted', '#667');
  const grid = colour('--line', '#8883');
  const accent = colour('--accent', '#2563eb');
  const band = colour('--band', '#2563eb33');
  const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
  const value = (_u: uPlot, v: number | null) =>
    v === null || v === undefined ? '—' : `${+v.toFixed(3)}${o.unit ? ` ${o.unit}` : ''}`;
  return new uPlot(
    {
      width: o.width,
      height: o.height,
      cursor: { drag: { x: true, y: false } },
      legend: { live: true },
      series: [
        {},
        { label: 'lowest', stroke: 'transparent', width: 0, points: { show: false }, value },
        { label: 'highest', stroke: 'transparent', width: 0, points: { show: false }, value },
        // a lone bucket has no neighbour to draw a line to: it is drawn as a dot
        {
          label: o.label,
          stroke: accent,
          width: 2,
          points: { show: true, size: 7, filter: isolated },
          value,
        },
      ],
      bands: [{ series: [2, 1], fill: band }],
      axes: [axis, { ...axis, size: 56, values: (_u, ticks) => ticks.map((t) => `${+t.toFixed(2)}`) }],
    },
    columns as uPlot.AlignedData,
    target,
  );
}
