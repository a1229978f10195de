import { useState } from 'preact/hooks';
import { post } from '../api.js';
import { live, session } from '../app.js';
import { Availability } from '../components/Badge.js';
import { Link } from '../components/Link.js';
import { Secret } from '../components/Secret.js';
import { describe } from '../errors.js';
import { useStore, useTitle } from '../hooks.js';
import { paths } from '../routes.js';

const ID_PATTERN = '[a-z0-9][a-z0-9_\\-]{0,63}';

function Connection({ id, deviceId, token }: { id: string; deviceId: string; token: string }) {
  const s = useStore(live);
  const device = s.devices[deviceId];
  const secure = location.protocol === 'https:';
  return (
    <section class="card stack" aria-labelledby="added">
      <h2 id="added">{deviceId} is registered</h2>
      <Secret label="Device token" value={token} />
      <h3>Over MQTT</h3>
      <dl class="facts">
        <dt>Server</dt>
        <dd>
          {location.hostname}, port 1883{secure ? ' (TLS: 8883)' : ''} unless the gateway runs with another{' '}
          <code>--mqtt-port</code>
        </dd>
        <dt>Client id and user name</dt>
        <dd>
          <code>{id}</code>
        </dd>
        <dt>Password</dt>
        <dd>the token above</dd>
        <dt>Last will</dt>
        <dd>
          <code>picket/{id}/status</code> = <code>offline</code>, retained
        </dd>
        <dt>Topics</dt>
        <dd>
          publish <code>picket/{id}/hello</code>, <code>…/state</code>, <code>…/status</code>,{' '}
          <code>…/cmd/result</code>; subscribe <code>picket/{id}/cmd</code>
        </dd>
      </dl>
      <h3>Over WebSocket</h3>
      <dl class="facts">
        <dt>Address</dt>
        <dd>
          <code class="wrap">
            {secure ? 'wss' : 'ws'}://{location.host}/picket
          </code>
        </dd>
        <dt>Header</dt>
        <dd>
          <code class="wrap">Authorization: Bearer {id}:&lt;token&gt;</code>
        </dd>
      </dl>
      <p role="status">
        {device?.online ? (
          <>
            <Availability online /> <Link to={paths.device(deviceId)}>Open {device.name || deviceId}</Link>
          </>
        ) : (
          'Waiting for the device to connect…'
        )}
      </p>
    </section>
  );
}

export function AddDevice() {
  useTitle('Add a device');
  const role = useStore(session)?.role;
  const [id, setId] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [added, setAdded] = useState<{ id: string; device_id: string; token: string } | undefined>();

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError('');
    try {
      const answer = await post<{ device_id: string; token: string }>('/api/devices', { id });
      setAdded({ id, ...answer });
      setId('');
    } catch (e) {
      setError(describe(e, role, 'add devices'));
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <h1 tabIndex={-1}>Add a device</h1>
      <div class="grid two">
        <section class="card stack" aria-labelledby="by-token">
          <h2 id="by-token">With a token</h2>
          <p>For a device that already runs the picket firmware: register it here, then give it the token.</p>
          <form class="stack" onSubmit={submit}>
            <div class="field">
              <label for="device-id">Device id</label>
              <input
                id="device-id"
                required
                pattern={ID_PATTERN}
                maxLength={64}
                autocapitalize="none"
                spellcheck={false}
                aria-describedby="device-id-hint"
                value={id}
                onInput={(e) => setId(e.currentTarget.value)}
              />
              <p id="device-id-hint" class="hint">
                Lowercase letters, digits, - and _, e.g. <code>kitchen</code>.
              </p>
            </div>
            <button type="submit" class="primary" disabled={busy}>
              Add device
            </button>
          </form>
          {error && (
            <p class="notice error" role="alert">
              {error}
            </p>
          )}
        </section>
        <section class="card stack" aria-labelledby="by-usb">
          <h2 id="by-usb">Over USB</h2>
          <p>
            Flash the firmware and provision the device (Wi-Fi and token) from this browser, over a USB cable.
          </p>
          <p>
            <a class="button" href="/flash">
              Flash and provision
            </a>
          </p>
        </section>
      </div>
      {added && <Connection id={added.id} deviceId={added.device_id} token={added.token} />}
    </>
  );
}
