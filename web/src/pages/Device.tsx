import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { del, get, patch, post } from '../api.js';
import { live, session } from '../app.js';
import { Availability, Badge } from '../components/Badge.js';
import { activeBinding, BindingsEditor } from '../components/Bindings.js';
import { Command, isCommandable } from '../components/Command.js';
import { Confirm } from '../components/Confirm.js';
import { valueText } from '../components/EntityRow.js';
import { InlineEdit } from '../components/InlineEdit.js';
import { Link } from '../components/Link.js';
import { Secret } from '../components/Secret.js';
import { describe } from '../errors.js';
import { ago, dateTime, signal } from '../format.js';
import { areaOf, areas, entitiesOfDevice } from '../grouping.js';
import { useNow, useStore, useTitle } from '../hooks.js';
import { canCommand, canManage } from '../roles.js';
import { navigate } from '../router.js';
import { paths } from '../routes.js';
import { shown } from '../status.js';
import { type LiveState, upsertEntity } from '../store.js';
import type { Device as DeviceRecord, Entity, EntityWithState, Role } from '../types.js';

const AREAS_LIST = 'known-areas';

function EntityCard({ s, entity, role, now }: { s: LiveState; entity: Entity; role: Role; now: number }) {
  const [error, setError] = useState('');
  const [editing, setEditing] = useState(false);
  const view = shown(s, entity.id, now);
  const admin = canManage(role);
  const active = activeBinding(entity.bindings, (id) => s.devices[id]?.online ?? false);

  async function save(body: { name?: string; area?: string }, doing: string) {
    setError('');
    try {
      const updated = await patch<EntityWithState>(`/api/entities/${encodeURIComponent(entity.id)}`, body);
      if (updated && typeof updated === 'object' && 'id' in updated)
        live.update((st) => upsertEntity(st, updated));
    } catch (e) {
      setError(describe(e, role, doing));
      throw e;
    }
  }

  const area = areaOf(s, entity);
  return (
    <li
      class={`card entity-card ${view.kind}${view.kind === 'value' && view.stale ? ' stale' : ''}`}
      aria-label={entity.name}
      data-entity-id={entity.id}
    >
      <div class="entity-card-head">
        <h3>{entity.name}</h3>
        {admin && (
          <InlineEdit
            label="Rename"
            ariaLabel={`Rename ${entity.name}`}
            field="Entity name"
            value={entity.name}
            required
            onSave={(name) => save({ name }, 'rename entities')}
          />
        )}
      </div>
      <p class="entity-now">
        {view.kind === 'unavailable' ? (
          <Badge tone="bad">Unavailable</Badge>
        ) : (
          <span class="entity-value">{valueText(entity, view)}</span>
        )}{' '}
        {view.kind === 'value' && view.stale && <Badge tone="warn">Stale</Badge>}{' '}
        {view.kind === 'value' && <span class="muted">updated {ago(view.ts, now)}</span>}
      </p>
      {canCommand(role) && isCommandable(entity) && <Command entity={entity} shown={view} role={role} />}
      <dl class="facts">
        <dt>Kind</dt>
        <dd>
          {entity.platform}
          {entity.device_class ? ` (${entity.device_class})` : ''}
        </dd>
        <dt>Area</dt>
        <dd>
          {area ?? <span class="muted">none</span>}{' '}
          {admin && (
            <InlineEdit
              label={entity.area ? 'Change area' : 'Set area'}
              ariaLabel={`Area of ${entity.name}`}
              field="Entity area"
              value={entity.area ?? ''}
              list={AREAS_LIST}
              onSave={(value) => save({ area: value }, 'assign areas')}
            />
          )}
        </dd>
        <dt>History</dt>
        <dd>
          <Link to={paths.history(entity.id)} aria-label={`History of ${entity.name}`}>
            Show history
          </Link>
        </dd>
      </dl>
      <h4>Sources</h4>
      {editing ? (
        <BindingsEditor
          entityId={entity.id}
          entityName={entity.name}
          bindings={entity.bindings}
          deviceIds={Object.keys(s.devices)}
          onDone={() => setEditing(false)}
        />
      ) : (
        <>
          {entity.bindings.length === 0 ? (
            <p class="muted">No sources: nothing feeds this entity.</p>
          ) : (
            <table class="bindings">
              <thead>
                <tr>
                  <th scope="col">Priority</th>
                  <th scope="col">Source</th>
                  <th scope="col">Status</th>
                </tr>
              </thead>
              <tbody>
                {[...entity.bindings]
                  .sort((a, b) => b.priority - a.priority)
                  .map((b) => (
                    <tr key={`${b.protocol}.${b.device_id}.${b.key}`}>
                      <td>{b.priority}</td>
                      <td class="wrap">
                        {b.protocol} · {b.device_id} · {b.key}
                      </td>
                      <td>
                        {b === active ? (
                          <Badge tone="ok">In use</Badge>
                        ) : s.devices[b.device_id]?.online ? (
                          <Badge tone="muted">Standby</Badge>
                        ) : (
                          <Badge tone="bad">Offline</Badge>
                        )}
                      </td>
                    </tr>
                  ))}
              </tbody>
            </table>
          )}
          {admin && (
            <button
              type="button"
              class="quiet"
              aria-label={`Edit sources of ${entity.name}`}
              onClick={() => setEditing(true)}
            >
              Edit sources
            </button>
          )}
        </>
      )}
      {error && (
        <p class="notice error" role="alert">
          {error}
        </p>
      )}
    </li>
  );
}

export function Device({ id }: { id: string }) {
  const s = useStore(live);
  const role = useStore(session)?.role ?? 'viewer';
  const now = useNow();
  const [detail, setDetail] = useState<DeviceRecord | undefined>();
  const [missing, setMissing] = useState(false);
  const [error, setError] = useState('');
  const [token, setToken] = useState('');
  const stored = s.devices[id];
  const device: DeviceRecord | undefined = stored ? { ...detail, ...stored } : detail;
  useTitle(device?.name ?? id);

  useEffect(() => {
    setDetail(undefined);
    setMissing(false);
    setToken('');
    get<DeviceRecord>(`/api/devices/${encodeURIComponent(id)}`)
      .then(setDetail)
      .catch(() => setMissing(true));
  }, [id]);

  if (!device)
    return missing && s.loaded ? (
      <>
        <h1 tabIndex={-1}>No such device</h1>
        <p>
          There is no device <code>{id}</code> (any more). <Link to={paths.dashboard()}>Back home</Link>
        </p>
      </>
    ) : (
      <p role="status">Loading…</p>
    );

  const admin = canManage(role);
  const entities = entitiesOfDevice(s, id);

  async function save(body: { name?: string; area?: string }, doing: string) {
    setError('');
    try {
      const updated = await patch<DeviceRecord>(`/api/devices/${encodeURIComponent(id)}`, body);
      if (updated && typeof updated === 'object' && 'id' in updated)
        live.update((st) => ({ ...st, devices: { ...st.devices, [id]: { ...st.devices[id], ...updated } } }));
    } catch (e) {
      setError(describe(e, role, doing));
      throw e;
    }
  }

  const facts: [string, string | undefined][] = [
    ['Protocol', device.protocol],
    ['Model', device.model],
    ['Manufacturer', device.manufacturer],
    ['Firmware', device.sw_version],
    ['Device id', device.id],
  ];

  return (
    <>
      <datalist id={AREAS_LIST}>
        {areas(s).map((a) => (
          <option key={a} value={a} />
        ))}
      </datalist>
      <div class="page-head">
        <h1 tabIndex={-1}>{device.name || device.id}</h1>
        <Availability online={device.online} />
        {admin && (
          <InlineEdit
            label="Rename device"
            field="Device name"
            value={device.name}
            required
            onSave={(name) => save({ name }, 'rename devices')}
          />
        )}
      </div>
      {error && (
        <p class="notice error" role="alert">
          {error}
        </p>
      )}
      <section class="card" aria-labelledby="device-facts">
        <h2 id="device-facts">About this device</h2>
        <dl class="facts">
          {facts.map(([label, value]) =>
            value ? (
              <Fragment key={label}>
                <dt>{label}</dt>
                <dd>{value}</dd>
              </Fragment>
            ) : null,
          )}
          <dt>Availability</dt>
          <dd>{device.online ? 'Online' : 'Offline'}</dd>
          <dt>Last seen</dt>
          <dd>
            {device.last_seen ? (
              <span title={dateTime(device.last_seen)}>
                {device.online ? ago(device.last_seen, now) : dateTime(device.last_seen)}
              </span>
            ) : (
              'never'
            )}
          </dd>
          {typeof device.rssi === 'number' && (
            <>
              <dt>Signal</dt>
              <dd>{signal(device.rssi)}</dd>
            </>
          )}
          <dt>Area</dt>
          <dd>
            {device.area ?? <span class="muted">none</span>}{' '}
            {admin && (
              <InlineEdit
                label={device.area ? 'Change area' : 'Set area'}
                ariaLabel="Area of this device"
                field="Device area"
                value={device.area ?? ''}
                list={AREAS_LIST}
                onSave={(area) => save({ area }, 'assign areas')}
              />
            )}
          </dd>
        </dl>
      </section>
      <section aria-labelledby="device-entities">
        <h2 id="device-entities">Entities</h2>
        {entities.length === 0 ? (
          <p class="muted">This device has not announced any entities yet.</p>
        ) : (
          <ul class="entity-cards">
            {entities.map((entity) => (
              <EntityCard key={entity.id} s={s} entity={entity} role={role} now={now} />
            ))}
          </ul>
        )}
      </section>
      {admin && (
        <section class="card" aria-labelledby="device-admin">
          <h2 id="device-admin">Token and removal</h2>
          {device.protocol === 'picket' && (
            <div class="stack">
              <p>A new token replaces the old one at once: the device needs the new one to connect again.</p>
              <Confirm
                label="Rotate token"
                question="The old token stops working now. Rotate it?"
                confirm="Rotate the token"
                onConfirm={async () => {
                  try {
                    const answer = await post<{ device_id: string; token: string }>(
                      `/api/devices/${encodeURIComponent(id)}/rotate`,
                    );
                    setToken(answer.token);
                  } catch (e) {
                    setError(describe(e, role, 'rotate device tokens'));
                  }
                }}
              />
              {token && <Secret label="New device token" value={token} />}
            </div>
          )}
          <div class="stack">
            <p>
              Removing the device revokes its token and closes its connection. Its entities' history is kept.
            </p>
            <Confirm
              label="Remove device"
              question={`Remove ${device.name || device.id}? It will have to be added again to connect.`}
              confirm="Remove it"
              onConfirm={async () => {
                try {
                  await del(`/api/devices/${encodeURIComponent(id)}`);
                  live.update((st) => ({
                    ...st,
                    devices: Object.fromEntries(Object.entries(st.devices).filter(([k]) => k !== id)),
                  }));
                  navigate(paths.dashboard());
                } catch (e) {
                  setError(describe(e, role, 'remove devices'));
                }
              }}
            />
          </div>
        </section>
      )}
    </>
  );
}
