import { useEffect, useMemo, useState } from 'preact/hooks';
import { get } from '../api.js';
import { live, session } from '../app.js';
import { Chart } from '../components/Chart.js';
import { Link } from '../components/Link.js';
import { describe } from '../errors.js';
import { formatNumber, withUnit } from '../format.js';
import { useStore, useTitle } from '../hooks.js';
import { navigate } from '../router.js';
import { paths } from '../routes.js';
import { isRange, RANGES, type Range, summarize, toColumns } from '../series.js';
import type { HistoryResponse } from '../types.js';

const DEFAULT_RANGE: Range = '24h';

export function History({ id, range: asked }: { id: string; range: string | null }) {
  const s = useStore(live);
  const role = useStore(session)?.role;
  const entity = s.entities[id];
  const name = entity?.name ?? id;
  useTitle(`History of ${name}`);
  const range: Range = isRange(asked) ? asked : DEFAULT_RANGE;
  const rangeLabel = RANGES.find((r) => r.range === range)?.label ?? range;
  const [history, setHistory] = useState<HistoryResponse | undefined>();
  const [error, setError] = useState('');
  const [loading, setLoading] = useState(true);

  useEffect(() => {
    let current = true;
    setLoading(true);
    setError('');
    get<HistoryResponse>(`/api/entities/${encodeURIComponent(id)}/history?range=${range}`)
      .then((h) => current && setHistory(h))
      .catch((e) => current && setError(describe(e, role, 'read the history')))
      .finally(() => current && setLoading(false));
    return () => {
      current = false;
    };
  }, [id, range]);

  const columns = useMemo(() => (history ? toColumns(history) : undefined), [history]);
  const summary = history ? summarize(history) : null;
  const unit = history?.unit ?? entity?.unit;
  const csv = `/api/entities/${encodeURIComponent(id)}/history.csv?range=${range}`;

  return (
    <>
      <p class="crumbs">
        {entity && s.devices[entity.device_id] ? (
          <Link to={paths.device(entity.device_id)}>{s.devices[entity.device_id]?.name}</Link>
        ) : (
          <Link to={paths.dashboard()}>Home</Link>
        )}
      </p>
      <div class="page-head">
        <h1 tabIndex={-1}>History of {name}</h1>
      </div>
      <div class="toolbar">
        <fieldset class="segmented">
          <legend class="sr-only">Range</legend>
          {RANGES.map((r) => (
            <button
              key={r.range}
              type="button"
              aria-pressed={r.range === range}
              aria-label={`Last ${r.label}`}
              onClick={() => navigate(paths.history(id, r.range), { replace: true })}
            >
              {r.label}
            </button>
          ))}
        </fieldset>
        <a class="button" href={csv} download>
          Download CSV
        </a>
      </div>
      {error && (
        <p class="notice error" role="alert">
          {error}
        </p>
      )}
      {loading && <p role="status">Loading the last {rangeLabel}…</p>}
      {!loading && history && (
        <>
          {summary && columns ? (
            <Chart
              columns={columns}
              unit={unit}
              label={`average${unit ? ` (${unit})` : ''}`}
              description={`Chart of ${name} over the last ${rangeLabel}: the average as a line, lowest to highest as a band.`}
            />
          ) : (
            <p class="card empty">No readings in the last {rangeLabel}.</p>
          )}
          {summary && (
            <dl class="summary" aria-label="Over this range">
              <div>
                <dt>Lowest</dt>
                <dd>{withUnit(formatNumber(summary.min), unit)}</dd>
              </div>
              <div>
                <dt>Average</dt>
                <dd>{withUnit(formatNumber(summary.mean), unit)}</dd>
              </div>
              <div>
                <dt>Highest</dt>
                <dd>{withUnit(formatNumber(summary.max), unit)}</dd>
              </div>
              <div>
                <dt>Readings</dt>
                <dd>{summary.readings.toLocaleString('en')}</dd>
              </div>
            </dl>
          )}
        </>
      )}
    </>
  );
}
