import { useState } from 'preact/hooks';
import { get, post } from '../api.js';
import { live, session } from '../app.js';
import { Availability } from '../components/Badge.js';
import { Link } from '../components/Link.js';
import { Secret } from '../components/Secret.js';
import { describe } from '../errors.js';
import { usePoll, useStore, useTitle } from '../hooks.js';
import { paths } from '../routes.js';

const ID_PATTERN = '[a-z0-9][a-z0-9_\\-]{0,63}';

/** The MQTT ports this gateway node listens on (GET /api/status). */
interface MqttPorts {
  mqtt_port?: number;
  mqtt_tls_port?: number;
}

/** `mqtt://192.168.1.5:1883`: the address to put into firmware, or undefined while unknown */
function mqttAddress(ports: MqttPorts | undefined): string | undefined {
  if (ports?.mqtt_port === undefined) return undefined;
  return `mqtt://${location.hostname}:${ports.mqtt_port}`;
}

function MqttServer({ ports }: { ports: MqttPorts | undefined }) {
  const address = mqttAddress(ports);
  if (!address)
    return (
      <>
        {location.hostname}, port 1883 unless the gateway runs with another <code>--mqtt-port</code>
      </>
    );
  return (
    <>
      <code class="wrap" data-testid="mqtt-address">
        {address}
      </code>
      {ports?.mqtt_tls_port !== undefined && (
        <>
          {' '}
          (TLS:{' '}
          <code class="wrap">
            mqtts://{location.hostname}:{ports.mqtt_tls_port}
          </code>
          )
        </>
      )}
    </>
  );
}

function Connection({
  id,
  deviceId,
  token,
  ports,
}: {
  id: string;
  deviceId: string;
  token: string;
  ports: MqttPorts | undefined;
}) {
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
          <MqttServer ports={ports} />
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
  const { data: ports } = usePoll(() => get<MqttPorts>('/api/status'), 0);

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
          <p>
            Devices reach this gateway over MQTT at <MqttServer ports={ports} />.
          </p>
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
        <section class="card stack" aria-labelledby="by-ble">
          <h2 id="by-ble">A Bluetooth sensor</h2>
          <p>
            Thermometers and other sensors that advertise over Bluetooth need no setup on the sensor: a BLE
            proxy hears them, and you adopt them with one click (encrypted ones with their bindkey).
          </p>
          <p>
            <Link class="button" to={paths.ble()}>
              Sensors nearby
            </Link>
          </p>
        </section>
      </div>
      {added && <Connection id={added.id} deviceId={added.device_id} token={added.token} ports={ports} />}
    </>
  );
}
