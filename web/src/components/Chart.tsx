import { useEffect, useRef, useState } from 'preact/hooks';
import type { Columns } from '../series.js';

type ChartModule = typeof import('../chart.js');
let loading: Promise<ChartModule> | undefined;
const load = () => {
  loading ??= import('../chart.js');
  return loading;
};

const heightFor = (width: number) => (width < 500 ? 220 : 300);

/** The history chart, drawn once uPlot has loaded; follows its box's width. */
export function Chart({
  columns,
  unit,
  label,
  description,
}: {
  columns: Columns;
  unit?: string | undefined;
  label: string;
  description: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    const target = box.current;
    if (!target) return;
    let cancelled = false;
    let chart: { setSize(size: { width: number; height: number }): void; destroy(): void } | undefined;
    let observer: ResizeObserver | undefined;
    load()
      .then(({ drawHistory }) => {
        if (cancelled) return;
        const width = target.clientWidth;
        chart = drawHistory(target, columns, { width, height: heightFor(width), unit, label });
        observer = new ResizeObserver(() => {
          const w = target.clientWidth;
          chart?.setSize({ width: w, height: heightFor(w) });
        });
        observer.observe(target);
      })
      .catch((e: unknown) =>
        setError(`The chart could not load: ${e instanceof Error ? e.message : String(e)}`),
      );
    return () => {
      cancelled = true;
      observer?.disconnect();
      chart?.destroy();
    };
  }, [columns, unit, label]);
  return (
    <figure class="chart">
      <div ref={box} class="chart-box" role="img" aria-label={description} />
      {error && (
        <p class="notice error" role="alert">
          {error}
        </p>
      )}
    </figure>
  );
}
