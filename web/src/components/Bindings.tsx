import { useState } from 'preact/hooks';
import { put } from '../api.js';
import { live, session } from '../app.js';
import { describe } from '../errors.js';
import { upsertEntity } from '../store.js';
import type { Binding, EntityWithState } from '../types.js';

/** The source a command goes to: the highest priority whose device is online. */
export function activeBinding(
  bindings: Binding[],
  online: (deviceId: string) => boolean,
): Binding | undefined {
  return [...bindings].sort((a, b) => b.priority - a.priority).find((b) => online(b.device_id));
}

const FIELDS = [
  { key: 'protocol', label: 'Protocol' },
  { key: 'device_id', label: 'Device' },
  { key: 'key', label: 'Key' },
  { key: 'priority', label: 'Priority' },
] as const;

/** Re-binding an entity to other sources (the hardware swap): rows of protocol, device, key, priority. */
export function BindingsEditor({
  entityId,
  entityName,
  bindings,
  deviceIds,
  onDone,
}: {
  entityId: string;
  entityName: string;
  bindings: Binding[];
  deviceIds: string[];
  onDone(): void;
}) {
  const [rows, setRows] = useState<Binding[]>(() => bindings.map((b) => ({ ...b })));
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const listId = `devices-for-${entityId}`;

  function change(i: number, key: keyof Binding, value: string) {
    setRows(
      rows.map((row, j) => (j === i ? { ...row, [key]: key === 'priority' ? Number(value) : value } : row)),
    );
  }

  async function save(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError('');
    try {
      const entity = await put<EntityWithState>(
        `/api/entities/${encodeURIComponent(entityId)}/bindings`,
        rows,
      );
      if (entity && typeof entity === 'object' && 'id' in entity) live.update((s) => upsertEntity(s, entity));
      onDone();
    } catch (e) {
      setError(describe(e, session.get()?.role, 're-bind entities'));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="bindings-editor stack" onSubmit={save} aria-label={`Bindings of ${entityName}`}>
      <datalist id={listId}>
        {deviceIds.map((id) => (
          <option key={id} value={id} />
        ))}
      </datalist>
      {rows.map((row, i) => (
        <fieldset key={i} class="binding-row">
          <legend>Source {i + 1}</legend>
          {FIELDS.map((f) => (
            <div class="field" key={f.key}>
              <label for={`b-${entityId}-${i}-${f.key}`}>{f.label}</label>
              <input
                id={`b-${entityId}-${i}-${f.key}`}
                type={f.key === 'priority' ? 'number' : 'text'}
                required
                step={f.key === 'priority' ? 1 : undefined}
                list={f.key === 'device_id' ? listId : undefined}
                value={String(row[f.key])}
                onInput={(e) => change(i, f.key, e.currentTarget.value)}
              />
            </div>
          ))}
          <button type="button" class="quiet" onClick={() => setRows(rows.filter((_, j) => j !== i))}>
            Remove source {i + 1}
          </button>
        </fieldset>
      ))}
      <div class="actions">
        <button
          type="button"
          onClick={() =>
            setRows([
              ...rows,
              {
                protocol: 'picket',
                device_id: '',
                key: '',
                priority: rows.length ? Math.min(...rows.map((r) => r.priority)) - 10 : 100,
              },
            ])
          }
        >
          Add a source
        </button>
        <button type="submit" class="primary" disabled={busy || rows.length === 0}>
          Save bindings
        </button>
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
      {error && (
        <p class="notice error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}
