import { useEffect, useState } from 'preact/hooks';
import { get } from '../api.js';
import { live, session } from '../app.js';
import { Badge, type Tone } from '../components/Badge.js';
import { describe } from '../errors.js';
import { dateTime } from '../format.js';
import { useStore, useTitle } from '../hooks.js';
import type { AuditEntry } from '../types.js';

const PAGE = 100;

function tone(outcome: string): Tone {
  if (/^(ok|success|allowed|done)$/i.test(outcome)) return 'ok';
  if (/denied|forbidden|refused|throttled|fail|error|rejected/i.test(outcome)) return 'bad';
  return 'muted';
}

export function auditQuery(user: string, entity: string, before?: number): string {
  const q = new URLSearchParams();
  if (user) q.set('user', user);
  if (entity) q.set('entity', entity);
  q.set('limit', String(PAGE));
  if (before !== undefined) q.set('before', String(before));
  return `/api/audit?${q}`;
}

export function Audit() {
  useTitle('Audit log');
  const s = useStore(live);
  const role = useStore(session)?.role;
  const [user, setUser] = useState('');
  const [entity, setEntity] = useState('');
  const [filter, setFilter] = useState({ user: '', entity: '' });
  const [rows, setRows] = useState<AuditEntry[]>([]);
  const [more, setMore] = useState(false);
  const [error, setError] = useState('');
  const [loading, setLoading] = useState(false);

  async function load(before?: number) {
    setLoading(true);
    setError('');
    try {
      const page = await get<AuditEntry[]>(auditQuery(filter.user, filter.entity, before));
      const sorted = [...page].sort((a, b) => b.ts - a.ts);
      setRows(before === undefined ? sorted : [...rows, ...sorted]);
      setMore(page.length >= PAGE);
    } catch (e) {
      setError(describe(e, role, 'read the audit log'));
    } finally {
      setLoading(false);
    }
  }

  useEffect(() => {
    void load();
  }, [filter]);

  const entities = Object.values(s.entities).sort((a, b) => a.name.localeCompare(b.name));
  const targetName = (target: string | undefined) =>
    target && s.entities[target] ? s.entities[target].name : target;

  return (
    <>
      <h1 tabIndex={-1}>Audit log</h1>
      <form
        class="card row-fields"
        aria-label="Filter"
        onSubmit={(e) => {
          e.preventDefault();
          setFilter({ user: user.trim(), entity });
        }}
      >
        <div class="field">
          <label for="audit-user">User</label>
          <input
            id="audit-user"
            autocapitalize="none"
            value={user}
            onInput={(e) => setUser(e.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="audit-entity">Entity</label>
          <select id="audit-entity" value={entity} onChange={(e) => setEntity(e.currentTarget.value)}>
            <option value="">Any entity</option>
            {entities.map((en) => (
              <option key={en.id} value={en.id}>
                {en.name}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" class="primary">
          Filter
        </button>
      </form>
      {error && (
        <p class="notice error" role="alert">
          {error}
        </p>
      )}
      {!loading && !error && rows.length === 0 && (
        <p class="card empty">Nothing recorded{filter.user || filter.entity ? ' for this filter' : ''}.</p>
      )}
      <ol class="audit" aria-label="Events, newest first">
        {rows.map((r, i) => (
          <li key={`${r.ts}-${i}`} class="audit-row">
            <time dateTime={new Date(r.ts).toISOString()}>{dateTime(r.ts)}</time>
            <span>
              <strong>{r.actor}</strong> {r.action}
              {r.target ? <> · {targetName(r.target)}</> : null}
            </span>
            <span>
              <Badge tone={tone(r.outcome)}>{r.outcome}</Badge> <span class="muted">from {r.from}</span>
            </span>
            {r.detail !== undefined && (
              <span class="muted wrap">
                {typeof r.detail === 'string' ? r.detail : JSON.stringify(r.detail)}
              </span>
            )}
          </li>
        ))}
      </ol>
      {loading && <p role="status">Loading…</p>}
      {more && !loading && (
        <button type="button" onClick={() => load(rows[rows.length - 1]?.ts)}>
          Show older
        </button>
      )}
    </>
  );
}
