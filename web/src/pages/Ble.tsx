import { useState } from 'preact/hooks';
import { get, post, put } from '../api.js';
import { session } from '../app.js';
import { Badge } from '../components/Badge.js';
import { Link } from '../components/Link.js';
import { describe } from '../errors.js';
import { bytes, duration } from '../format.js';
import { bindkeyProblem, type HeardSensor, measurementList, signalText } from '../heard.js';
import { usePoll, useStore, useTitle } from '../hooks.js';
import { health, normalizeProxy } from '../proxies.js';
import { canManage } from '../roles.js';
import { paths } from '../routes.js';
import type { Role } from '../types.js';

interface Adopted {
  device_id: string;
  name: string;
}

/** One sensor heard nearby: what it is, how well it is heard, and (for admins) adopting it. */
function HeardCard({
  sensor,
  admin,
  role,
  onAdopted,
}: {
  sensor: HeardSensor;
  admin: boolean;
  role: Role | undefined;
  onAdopted(adopted: Adopted): void;
}) {
  const [bindkey, setBindkey] = useState('');
  const [touched, setTouched] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const needsKey = sensor.encrypted && !(sensor.has_key && sensor.key_works);
  const problem = needsKey ? bindkeyProblem(bindkey) : undefined;
  const title = sensor.name ?? sensor.model ?? 'Unnamed sensor';
  const keyId = `bindkey-${sensor.device_id}`;
  const label = `${title} (${sensor.mac})`;

  async function adopt(event: Event) {
    event.preventDefault();
    setTouched(true);
    if (problem) return;
    setBusy(true);
    setError('');
    try {
      const body = needsKey ? { bindkey: bindkey.trim() } : {};
      const answer = await post<{ device_id: string }>(
        `/api/ble/heard/${encodeURIComponent(sensor.mac)}/adopt`,
        body,
      );
      onAdopted({ device_id: answer.device_id, name: title });
    } catch (e) {
      setError(describe(e, role, 'add sensors'));
    } finally {
      setBusy(false);
    }
  }

  return (
    <li class="card stack heard" aria-label={label}>
      <div class="group-head">
        <h3>{title}</h3>
        {sensor.encrypted ? (
          <Badge tone={needsKey ? 'warn' : 'ok'}>
            {needsKey ? (sensor.has_key ? 'Key does not fit' : 'Encrypted') : 'Encrypted, key stored'}
          </Badge>
        ) : (
          <Badge tone="info">Not encrypted</Badge>
        )}
      </div>
      <dl class="facts">
        <dt>Address</dt>
        <dd>
          <code>{sensor.mac}</code>
        </dd>
        {(sensor.model || sensor.format) && (
          <>
            <dt>Kind</dt>
            <dd>{[sensor.manufacturer, sensor.model ?? sensor.format].filter(Boolean).join(' ')}</dd>
          </>
        )}
        <dt>Measures</dt>
        <dd>{measurementList(sensor)}</dd>
        <dt>Signal</dt>
        <dd>{signalText(sensor)}</dd>
        <dt>Last heard</dt>
        <dd>{duration(sensor.age_ms / 1000)} ago</dd>
      </dl>
      {admin && (
        <form class="stack" onSubmit={adopt} noValidate>
          {needsKey && (
            <div class="field">
              <label for={keyId}>Bindkey</label>
              <input
                id={keyId}
                autocomplete="off"
                autocapitalize="none"
                spellcheck={false}
                inputMode="text"
                maxLength={40}
                class="mono"
                placeholder="32 hex digits"
                aria-invalid={touched && problem !== undefined}
                aria-describedby={`${keyId}-hint`}
                value={bindkey}
                onInput={(e) => {
                  setBindkey(e.currentTarget.value);
                  setError('');
                }}
                onBlur={() => setTouched(bindkey !== '')}
              />
              <p id={`${keyId}-hint`} class={touched && problem ? 'hint error' : 'hint'}>
                {touched && problem
                  ? problem
                  : 'The sensor encrypts its readings. Its bindkey comes with it, or from the app it pairs with.'}
              </p>
            </div>
          )}
          <button type="submit" class="primary" disabled={busy} aria-label={`Adopt ${label}`}>
            {busy ? 'Adopting…' : 'Adopt'}
          </button>
          {error && (
            <p class="notice error" role="alert">
              {error}
            </p>
          )}
        </form>
      )}
    </li>
  );
}

function AutoAdopt({
  auto,
  onChange,
  role,
}: {
  auto: boolean;
  onChange(auto: boolean): void;
  role: Role | undefined;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  return (
    <div class="stack">
      <label class="check">
        <input
          type="checkbox"
          checked={auto}
          disabled={busy}
          aria-describedby="auto-adopt-hint"
          onChange={async (e) => {
            const next = e.currentTarget.checked;
            setBusy(true);
            setError('');
            try {
              onChange(
                (await put<{ auto_adopt: boolean }>('/api/ble/settings', { auto_adopt: next })).auto_adopt,
              );
            } catch (err) {
              setError(describe(err, role, 'change how sensors are added'));
            } finally {
              setBusy(false);
            }
          }}
        />
        Add new sensors automatically
      </label>
      <p id="auto-adopt-hint" class="hint">
        {auto
          ? 'Every sensor the gateway understands becomes a device as soon as a proxy hears it, a neighbour’s too. Only encrypted ones wait here for their bindkey.'
          : 'Sensors wait here until you adopt them: a neighbour’s sensors stay out of your home.'}
      </p>
      {error && (
        <p class="notice error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

function Proxies({ role }: { role: Role | undefined }) {
  const { data, error } = usePoll(() => get<Record<string, unknown>[]>('/api/ble/proxies'), 10_000);
  const now = Date.now();
  return (
    <section class="stack" aria-labelledby="proxies">
      <h2 id="proxies">Proxies</h2>
      <p class="muted">The small computers that listen for Bluetooth sensors around the house.</p>
      {error !== undefined && (
        <p class="notice error" role="alert">
          {describe(error, role, 'see the BLE proxies')}
        </p>
      )}
      {data && data.length === 0 && (
        <p class="card empty">
          No BLE proxy has reported yet. Start one with <code>npx sentinel ble-proxy</code> on a machine with
          Bluetooth, pointed at this gateway’s NATS.
        </p>
      )}
      <div class="grid">
        {data?.map((item) => {
          const { status, ageMs } = normalizeProxy(item, now);
          const h = health(status, ageMs);
          return (
            <section key={status.proxy} class="card" aria-label={`Proxy ${status.proxy}`}>
              <div class="group-head">
                <h3>{status.proxy}</h3>
                <Badge tone={h.tone}>{h.text}</Badge>
              </div>
              <dl class="facts">
                <dt>Last report</dt>
                <dd>{duration(ageMs / 1000)} ago</dd>
                {status.adapter && (
                  <>
                    <dt>Bluetooth</dt>
                    <dd>
                      {status.adapter}, scanning {status.scanning ?? '?'}
                    </dd>
                  </>
                )}
                {status.advertisements !== undefined && (
                  <>
                    <dt>Advertisements</dt>
                    <dd>{status.advertisements.toLocaleString('en')}</dd>
                  </>
                )}
                {status.buffer && (
                  <>
                    <dt>Buffer</dt>
                    <dd>
                      {status.buffer.depth} of {status.buffer.capacity}
                      {status.dropped?.buffer ? `, ${status.dropped.buffer} dropped` : ''}
                    </dd>
                  </>
                )}
                {status.gatt && (
                  <>
                    <dt>Connections</dt>
                    <dd>
                      {status.gatt.used} of {status.gatt.total}
                    </dd>
                  </>
                )}
                {status.uptime_s !== undefined && (
                  <>
                    <dt>Up for</dt>
                    <dd>
                      {duration(status.uptime_s)}
                      {status.restarts ? `, ${status.restarts} restarts` : ''}
                    </dd>
                  </>
                )}
                {status.rss_bytes !== undefined && (
                  <>
                    <dt>Memory</dt>
                    <dd>{bytes(status.rss_bytes)}</dd>
                  </>
                )}
                {status.version && (
                  <>
                    <dt>Version</dt>
                    <dd>{status.version}</dd>
                  </>
                )}
              </dl>
            </section>
          );
        })}
      </div>
    </section>
  );
}

export function Ble() {
  useTitle('Bluetooth');
  const role = useStore(session)?.role;
  const admin = canManage(role);
  const heard = usePoll(() => get<HeardSensor[]>('/api/ble/heard'), 3000);
  const settings = usePoll(() => get<{ auto_adopt: boolean }>('/api/ble/settings'), 0);
  const [auto, setAuto] = useState<boolean | undefined>();
  const [adopted, setAdopted] = useState<Adopted[]>([]);
  const autoAdopt = auto ?? settings.data?.auto_adopt;
  // adopted a moment ago: gone from the list before the next poll says so
  const waiting = heard.data?.filter((s) => !adopted.some((a) => a.device_id === s.device_id));

  return (
    <>
      <h1 tabIndex={-1}>Bluetooth</h1>
      <section class="stack" aria-labelledby="nearby">
        <div class="row-between">
          <h2 id="nearby">Sensors nearby</h2>
        </div>
        <p class="muted">
          Bluetooth sensors the proxies hear that are not devices yet, nearest first.
          {!admin && ' An admin can add them.'}
        </p>
        {admin && autoAdopt !== undefined && (
          <AutoAdopt
            auto={autoAdopt}
            role={role}
            onChange={(next) => {
              setAuto(next);
              heard.reload();
            }}
          />
        )}
        {adopted.length > 0 && (
          <ul class="stack plain" role="status">
            {adopted.map((a) => (
              <li key={a.device_id} class="notice">
                {a.name} was added. <Link to={paths.device(a.device_id)}>Open {a.name}</Link> — its readings
                appear there as the sensor sends them.
              </li>
            ))}
          </ul>
        )}
        {heard.error !== undefined && (
          <p class="notice error" role="alert">
            {describe(heard.error, role, 'see the sensors nearby')}
          </p>
        )}
        {waiting && waiting.length === 0 && (
          <p class="card empty">
            {autoAdopt === false
              ? 'No sensor is waiting. New ones appear here within seconds of a proxy hearing them.'
              : 'No sensor is waiting: those the gateway understands are added as soon as they are heard, and encrypted ones appear here for their bindkey.'}
          </p>
        )}
        {waiting && waiting.length > 0 && (
          <ul class="grid plain" aria-label="Sensors waiting to be adopted">
            {waiting.map((sensor) => (
              <HeardCard
                key={sensor.device_id}
                sensor={sensor}
                admin={admin}
                role={role}
                onAdopted={(a) =>
                  setAdopted((list) => [a, ...list.filter((x) => x.device_id !== a.device_id)])
                }
              />
            ))}
          </ul>
        )}
      </section>
      <Proxies role={role} />
    </>
  );
}
