// The gateway as users run it: `sentinel gateway`, its ready line, SIGTERM, a
// restart that keeps every entity id, and the embedded nats-server it supervises.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, connectTestBus, entityIdsOf } from '../../test/support/bus.js';
import { createApiToken, killStrays, runCli, startLocalGateway } from '../../test/support/cli.js';
import { spawnNatsServer, startNats, type TestNats } from '../../test/support/nats.js';

const hello = {
  v: 1,
  fw: '2.0.0',
  chip: 'esp32s3',
  entities: [
    { key: 'temperature', platform: 'sensor', unit: '°C' },
    { key: 'relay', platform: 'switch' },
  ],
};

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'sentinel-test-proc-'));
});
afterAll(async () => {
  killStrays();
  await rm(dataDir, { recursive: true, force: true });
});

async function entityIdsAt(url: string, deviceId: string, credsFile?: string) {
  const bus = await connectTestBus(url, credsFile);
  const ids = await entityIdsOf(bus, deviceId);
  await bus.close();
  return ids;
}

async function helloFrom(port: number, id: string, token: string) {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    clientId: id,
    username: id,
    password: token,
    reconnectPeriod: 0,
  });
  await client.publishAsync(`picket/${id}/hello`, JSON.stringify(hello), { qos: 1 });
  return client;
}

describe('sentinel gateway (process)', () => {
  let nats: TestNats;
  beforeAll(async () => {
    nats = await startNats();
  });
  afterAll(async () => {
    await nats?.stop();
  });

  it('prints the ready line, stops on SIGTERM within 5 s, and keeps every entity id across a restart', async () => {
    const args = ['--nats', nats.url, '--data', dataDir, '--node-id', 'proc-a'];
    const first = await startLocalGateway(args);
    expect(first.ready).toEqual({
      event: 'ready',
      node_id: 'proc-a',
      mqtt_port: expect.any(Number),
      http_port: expect.any(Number),
      nats_url: nats.url,
      // nobody has a password yet: the first admin's link (first-start.test.ts)
      onboarding_url: expect.stringMatching(/^http:\/\/localhost:\d+\/onboarding#[\w-]{43}$/),
    });
    const added = await runCli(['device', 'add', 'boiler', '--nats', nats.url]);
    expect(added.code).toBe(0);
    const { device_id, token } = JSON.parse(added.stdout);
    expect(device_id).toBe('picket-boiler');
    const client = await helloFrom(first.ready.mqtt_port, 'boiler', token);
    const before = await entityIdsAt(nats.url, 'picket-boiler');
    expect(Object.keys(before).sort()).toEqual(['relay', 'temperature']);

    const stopped = await first.stop();
    expect(stopped.code).toBe(0);
    expect(stopped.ms).toBeLessThan(5000);
    client.end(true);

    const second = await startLocalGateway(args);
    const again = await helloFrom(second.ready.mqtt_port, 'boiler', token);
    expect(await entityIdsAt(nats.url, 'picket-boiler')).toEqual(before);
    // and readings flow to the same ids without a new hello being needed
    const bus = await connectTestBus(nats.url);
    const states = await collect<{ value: number }>(bus, `sentinel.state.${before.temperature}`);
    await again.publishAsync('picket/boiler/state', JSON.stringify({ seq: 1, values: { temperature: 55 } }), {
      qos: 1,
    });
    expect((await states.next()).value).toBe(55);
    await bus.close();
    await again.endAsync();
    expect((await second.stop()).code).toBe(0);
  });

  it('keeps a password in the NATS URL off its ready line and its log', async () => {
    const data = await mkdtemp(join(tmpdir(), 'sentinel-test-pass-'));
    const server = await spawnNatsServer([
      '-js',
      '-a',
      '127.0.0.1',
      '-p',
      '-1',
      '--user',
      'gw',
      '--pass',
      'hunter2-secret',
      '-sd',
      data,
    ]);
    try {
      const gw = await startLocalGateway([
        '--nats',
        `nats://gw:hunter2-secret@127.0.0.1:${server.port}`,
        '--data',
        data,
        '--node-id',
        'with-pass',
      ]);
      expect(gw.ready.nats_url).toBe(`nats://***@127.0.0.1:${server.port}`);
      // it did connect with them, and /status does not show them either
      const token = await createApiToken(`nats://gw:hunter2-secret@127.0.0.1:${server.port}`);
      const status = await (
        await fetch(`http://127.0.0.1:${gw.ready.http_port}/status`, {
          headers: { authorization: `Bearer ${token}` },
        })
      ).text();
      expect(status).toContain(`nats://***@127.0.0.1:${server.port}`);
      expect(status).not.toContain('hunter2-secret');
      expect((await gw.stop()).code).toBe(0);
      expect(gw.stderr()).not.toContain('hunter2-secret');
    } finally {
      await server.stop();
      await rm(data, { recursive: true, force: true });
    }
  });

  it('refuses bad options with exit code 2 and one line saying which', async () => {
    const result = await runCli(['gateway', '--mqtt-port', 'seventy']);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('--mqtt-port');
    const env = await runCli(['gateway', '--nats', nats.url], { SENTINEL_HTTP_PORT: '70000' });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('SENTINEL_HTTP_PORT');
  });
});

describe('sentinel gateway with its embedded nats-server', () => {
  it('runs nats-server itself, restarts it when it dies, and lets `device` commands reach its store', async () => {
    const gw = await startLocalGateway(['--nats-port', '0', '--data', dataDir, '--node-id', 'embedded']);
    expect(gw.ready.nats_url).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
    const added = await runCli(['device', 'add', 'shed', '--data', dataDir]);
    expect(added.code).toBe(0);
    const { token } = JSON.parse(added.stdout);
    const client = await helloFrom(gw.ready.mqtt_port, 'shed', token);

    const ids = await entityIdsAt(gw.ready.nats_url, 'picket-shed', gw.natsCreds);
    const pid = Number(await readFile(join(dataDir, 'nats', 'nats-server.pid'), 'utf8'));
    process.kill(pid, 'SIGKILL');
    // the gateway brings it back on the same URL, and readings flow again
    const bus = await connectTestBus(gw.ready.nats_url, gw.natsCreds);
    const states = await collect<{ value: number }>(bus, `sentinel.state.${ids.temperature}`);
    await client.publishAsync('picket/shed/state', JSON.stringify({ seq: 1, values: { temperature: 4 } }), {
      qos: 1,
    });
    expect((await states.next()).value).toBe(4);
    const newPid = Number(await readFile(join(dataDir, 'nats', 'nats-server.pid'), 'utf8'));
    expect(newPid).not.toBe(pid);
    const metrics = await (await gw.api('/metrics')).text();
    expect(metrics).toMatch(/sentinel_nats_server_restarts_total 1/);
    await bus.close();
    await client.endAsync();
    expect((await gw.stop()).code).toBe(0);

    // with no gateway running, `device list` starts the store briefly itself
    const listed = await runCli(['device', 'list', '--data', dataDir]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain('"device_id":"picket-shed"');
  }, 60_000);
});
