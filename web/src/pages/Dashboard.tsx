import { useState } from 'preact/hooks';
import { live, session } from '../app.js';
import { Availability } from '../components/Badge.js';
import { EntityRow } from '../components/EntityRow.js';
import { Link } from '../components/Link.js';
import { type GroupBy, group } from '../grouping.js';
import { useNow, useStore, useTitle } from '../hooks.js';
import { canManage } from '../roles.js';
import { paths } from '../routes.js';
import { shown } from '../status.js';

const GROUP_KEY = 'sentinel.dashboard.group';

function savedGroup(): GroupBy {
  try {
    return localStorage.getItem(GROUP_KEY) === 'area' ? 'area' : 'device';
  } catch {
    return 'device';
  }
}

export function Dashboard() {
  useTitle('Home');
  const s = useStore(live);
  const role = useStore(session)?.role ?? 'viewer';
  const now = useNow();
  const [by, setBy] = useState<GroupBy>(savedGroup);

  function choose(next: GroupBy) {
    setBy(next);
    try {
      localStorage.setItem(GROUP_KEY, next);
    } catch {
      // private mode: the choice lasts this visit
    }
  }

  const devices = Object.values(s.devices);
  const online = devices.filter((d) => d.online).length;
  const groups = group(s, by);

  return (
    <>
      <div class="page-head">
        <h1 tabIndex={-1}>Home</h1>
        <fieldset class="segmented">
          <legend class="sr-only">Group by</legend>
          <button type="button" aria-pressed={by === 'device'} onClick={() => choose('device')}>
            By device
          </button>
          <button type="button" aria-pressed={by === 'area'} onClick={() => choose('area')}>
            By area
          </button>
        </fieldset>
      </div>
      {!s.loaded ? (
        <p role="status">Connecting to the gateway…</p>
      ) : (
        <>
          <p class="muted">
            {online} of {devices.length} devices online · {Object.keys(s.entities).length} entities
          </p>
          {groups.length === 0 && (
            <div class="card empty">
              <p>No devices yet.</p>
              {canManage(role) && <Link to={paths.addDevice()}>Add a device</Link>}
            </div>
          )}
          <div class="grid">
            {groups.map((g) => {
              const device = g.deviceId ? s.devices[g.deviceId] : undefined;
              const headingId = `group-${g.key.replace(/[^a-zA-Z0-9_-]/g, '_')}`;
              return (
                <section key={g.key} class="card group" aria-labelledby={headingId}>
                  <div class="group-head">
                    <h2 id={headingId}>
                      {g.deviceId ? <Link to={paths.device(g.deviceId)}>{g.title}</Link> : g.title}
                    </h2>
                    {device && <Availability online={device.online} />}
                  </div>
                  {g.entities.length === 0 ? (
                    <p class="muted">No entities yet.</p>
                  ) : (
                    <ul class="entities">
                      {g.entities.map((entity) => (
                        <EntityRow
                          key={entity.id}
                          entity={entity}
                          shown={shown(s, entity.id, now)}
                          deviceName={by === 'device' ? device?.name : undefined}
                          role={role}
                          now={now}
                        />
                      ))}
                    </ul>
                  )}
                </section>
              );
            })}
          </div>
        </>
      )}
    </>
  );
}
