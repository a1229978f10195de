// The embedded nats-server is locked (docs/security.md): the gateway generates an
// operator, accounts and credentials in <data>/nats-auth at first start, a local
// process without credentials is refused, local `sentinel` commands find the
// credential themselves, and a data directory from an open server keeps every
// device, entity id and state when it is first started locked.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeEach, expect, it } from 'vitest';
import { connectTestBus, entityIdsOf, kvValue } from '../../test/support/bus.js';
import { type CliGateway, killStrays, runCli, startLocalGateway } from '../../test/support/cli.js';
import { type SpawnedNats, spawnNatsServer } from '../../test/support/nats.js';
import { CONTRACT_HELLO, connectDevice } from '../../test/support/picket.js';

let dataDir: string;
let gateway: CliGateway | undefined;
let openServer: SpawnedNats | undefined;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'sentinel-test-embedded-auth-'));
});
afterEach(async () => {
  await gateway?.stop();
  gateway = undefined;
  await openServer?.stop();
  openServer = undefined;
  await rm(dataDir, { recursive: true, force: true });
});
afterAll(() => killStrays());

/** What a client without credentials gets from the gateway's nats-server. */
async function anonymousConnect(url: string): Promise<string> {
  try {
    const nc = await connect({ servers: url, maxReconnectAttempts: 0, timeout: 5000 });
    await nc.close();
    return 'connected';
  } catch (error) {
    return String((error as Error).message);
  }
}

it('refuses a local connection without credentials; the gateway and local commands use theirs', async () => {
  gateway = await startLocalGateway(['--data', dataDir, '--node-id', 'locked']);
  expect(await anonymousConnect(gateway.ready.nats_url)).toMatch(/authoriz|authenticat/i);

  // the credentials are the owner's alone
  expect((await stat(join(dataDir, 'nats-auth'))).mode & 0o777).toBe(0o700);
  expect((await stat(gateway.natsCreds!)).mode & 0o777).toBe(0o600);

  // `sentinel device add --data` finds the running server and its credential
  const added = await runCli(['device', 'add', 'cellar', '--data', dataDir]);
  expect(added.code, added.stderr).toBe(0);
  const { token } = JSON.parse(added.stdout) as { token: string };
  const device = await connectDevice({ mqttPort: gateway.ready.mqtt_port }, 'cellar', token);
  await device.publishAsync('picket/cellar/hello', JSON.stringify(CONTRACT_HELLO), { qos: 1 });
  const bus = await connectTestBus(gateway.ready.nats_url, gateway.natsCreds);
  await kvValue(bus, 'sentinel_devices', 'picket-cellar');
  await bus.close();
  await device.endAsync();

  // and with the gateway stopped, a command starts the locked server on the same store
  await gateway.stop();
  gateway = undefined;
  const listed = await runCli(['device', 'list', '--data', dataDir]);
  expect(listed.code, listed.stderr).toBe(0);
  expect(listed.stdout).toContain('picket-cellar');
});

it('keeps every device, entity id and state of a data directory that an open server used', async () => {
  // the layout an earlier gateway left: an open nats-server with its store in <data>/nats
  openServer = await spawnNatsServer(['-js', '-a', '127.0.0.1', '-p', '-1', '-sd', join(dataDir, 'nats')]);
  const openUrl = `nats://127.0.0.1:${openServer.port}`;
  const added = await runCli(['device', 'add', 'attic', '--nats', openUrl]);
  expect(added.code, added.stderr).toBe(0);
  const { token } = JSON.parse(added.stdout) as { token: string };
  gateway = await startLocalGateway(['--nats', openUrl, '--data', dataDir, '--node-id', 'before']);
  const before = await connectDevice({ mqttPort: gateway.ready.mqtt_port }, 'attic', token);
  await before.publishAsync('picket/attic/hello', JSON.stringify(CONTRACT_HELLO), { qos: 1 });
  await before.publishAsync('picket/attic/state', JSON.stringify({ seq: 1, values: { temperature: 17.5 } }), {
    qos: 1,
  });
  await before.endAsync();
  const openBus = await connectTestBus(openUrl);
  const ids = await entityIdsOf(openBus, 'picket-attic');
  await kvValue<{ value: number }>(openBus, 'sentinel_state', ids.temperature!, (s) => s.value === 17.5);
  await openBus.close();
  await gateway.stop();
  await openServer.stop();
  openServer = undefined;

  // the first start of a gateway that locks its embedded server
  gateway = await startLocalGateway(['--data', dataDir, '--node-id', 'after']);
  await gateway.logged(
    (line) => line.msg === 'moved the streams of the open nats-server into the SENTINEL account',
  );
  expect(await anonymousConnect(gateway.ready.nats_url)).toMatch(/authoriz|authenticat/i);

  const entities = (await (await gateway.api('/api/entities')).json()) as {
    id: string;
    state: { value: unknown } | null;
  }[];
  const temperature = entities.find((e) => e.id === ids.temperature);
  expect(temperature?.state?.value).toBe(17.5);
  expect(entities.map((e) => e.id).sort()).toEqual(Object.values(ids).sort());

  // the device's token still works, and its next reading lands on the same entity
  const bus = await connectTestBus(gateway.ready.nats_url, gateway.natsCreds);
  const after = await connectDevice({ mqttPort: gateway.ready.mqtt_port }, 'attic', token);
  await after.publishAsync('picket/attic/hello', JSON.stringify(CONTRACT_HELLO), { qos: 1 });
  await after.publishAsync('picket/attic/state', JSON.stringify({ seq: 2, values: { temperature: 18 } }), {
    qos: 1,
  });
  await kvValue<{ value: number }>(bus, 'sentinel_state', ids.temperature!, (s) => s.value === 18);
  expect(await entityIdsOf(bus, 'picket-attic')).toEqual(ids);
  await after.endAsync();
  await bus.close();
});
