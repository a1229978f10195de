import { get } from '../api.js';
import { session } from '../app.js';
import { Badge } from '../components/Badge.js';
import { describe } from '../errors.js';
import { bytes, duration } from '../format.js';
import { usePoll, useStore, useTitle } from '../hooks.js';
import { health, normalizeProxy } from '../proxies.js';

export function Ble() {
  useTitle('BLE proxies');
  const role = useStore(session)?.role;
  const { data, error } = usePoll(() => get<Record<string, unknown>[]>('/api/ble/proxies'), 10_000);
  const now = Date.now();
  return (
    <>
      <h1 tabIndex={-1}>BLE proxies</h1>
      <p class="muted">The small computers that listen for Bluetooth sensors around the house.</p>
      {error !== undefined && (
        <p class="notice error" role="alert">
          {describe(error, role, 'see the BLE proxies')}
        </p>
      )}
      {data && data.length === 0 && <p class="card empty">No BLE proxy has reported yet.</p>}
      <div class="grid">
        {data?.map((item) => {
          const { status, ageMs } = normalizeProxy(item, now);
          const h = health(status, ageMs);
          return (
            <section key={status.proxy} class="card" aria-label={`Proxy ${status.proxy}`}>
              <div class="group-head">
                <h2>{status.proxy}</h2>
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
    </>
  );
}
