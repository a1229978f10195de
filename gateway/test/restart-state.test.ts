// Last known states survive a restart of the gateway process: GET /api/entities shows
// what KV sentinel_state holds before any device is back (CONTRACT.md §6), and the
// stored state never replaces a newer reading that arrives right after the restart.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectTestBus, entityIdsOf, kvValue } from '../../test/support/bus.js';
import { type CliGateway, killStrays, runCli, startLocalGateway } from '../../test/support/cli.js';
import { startNats, type TestNats } from '../../test/support/nats.js';
import { CONTRACT_HELLO, connectDevice } from '../../test/support/picket.js';

interface StateRecord {
  value: unknown;
  ts: number;
  available?: boolean;
}
interface EntityView {
  id: string;
  state: StateRecord | null;
}

let nats: TestNats;
let bus: NatsConnection;
let dataDir: string;
let gateway: CliGateway | undefined;

beforeAll(async () => {
  nats = await startNats();
  bus = await connectTestBus(nats.url);
  dataDir = await mkdtemp(join(tmpdir(), 'sentinel-test-restart-state-'));
});
afterAll(async () => {
  await gateway?.stop();
  killStrays();
  await bus?.close();
  await nats?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

// a long flush interval: the first write after the restart happens well after the reading
const start = () =>
  startLocalGateway([
    '--nats',
    nats.url,
    '--data',
    dataDir,
    '--node-id',
    'restarted',
    '--state-flush',
    '1000',
  ]);

async function entities(gw: CliGateway): Promise<Map<string, EntityView>> {
  const response = await gw.api('/api/entities');
  expect(response.status).toBe(200);
  return new Map(((await response.json()) as EntityView[]).map((e) => [e.id, e]));
}

it('shows the last known states right after a restart, and a newer reading is never replaced by the stored one', async () => {
  const added = await runCli(['device', 'add', 'porch', '--nats', nats.url]);
  expect(added.code).toBe(0);
  const { token } = JSON.parse(added.stdout) as { token: string };
  const before = Date.now() - 60_000;

  gateway = await start();
  const first = await connectDevice({ mqttPort: gateway.ready.mqtt_port }, 'porch', token);
  await first.publishAsync('picket/porch/hello', JSON.stringify(CONTRACT_HELLO), { qos: 1 });
  await first.publishAsync(
    'picket/porch/state',
    JSON.stringify({ seq: 1, ts: before, values: { temperature: 21.5, relay: true } }),
    { qos: 1 },
  );
  const ids = await entityIdsOf(bus, 'picket-porch');
  await kvValue<StateRecord>(bus, 'sentinel_state', ids.temperature ?? '', (s) => s.value === 21.5);
  await first.endAsync();
  // gone: what KV keeps says so (and a record saying `available` below is a new one)
  for (const id of [ids.temperature, ids.relay])
    await kvValue<StateRecord>(bus, 'sentinel_state', id ?? '', (s) => s.available === false);
  expect((await gateway.stop()).code).toBe(0);

  // back, before any device is: the stored states are there
  gateway = await start();
  const shown = await entities(gateway);
  expect(shown.get(ids.temperature ?? '')?.state).toMatchObject({ value: 21.5, ts: before });
  expect(shown.get(ids.relay ?? '')?.state).toMatchObject({ value: true, ts: before });

  // the device comes back and sends a newer reading at once, while the gateway marks its
  // entities available again: the stored state must not come back over it
  const now = Date.now();
  const again = await connectDevice({ mqttPort: gateway.ready.mqtt_port }, 'porch', token);
  await again.publishAsync(
    'picket/porch/state',
    JSON.stringify({ seq: 2, ts: now, values: { temperature: 23.25 } }),
    { qos: 1 },
  );
  const written = await kvValue<StateRecord>(
    bus,
    'sentinel_state',
    ids.temperature ?? '',
    (s) => s.available === true,
  );
  expect(written).toMatchObject({ value: 23.25, ts: now });
  expect((await entities(gateway)).get(ids.temperature ?? '')?.state).toMatchObject({
    value: 23.25,
    ts: now,
    available: true,
  });
  // the entity without a new reading keeps its stored one, now available
  await kvValue<StateRecord>(bus, 'sentinel_state', ids.relay ?? '', (s) => s.available === true);
  expect((await entities(gateway)).get(ids.relay ?? '')?.state).toMatchObject({ value: true, ts: before });
  await again.endAsync();
});
