// TLS for devices: MQTT over TLS and HTTPS/WSS, with certificates the gateway
// generates (--tls auto: a local CA under <data>/tls) or the user provides
// (--tls-cert/--tls-key). Real clients verify the certificate and the host name.
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { get as httpsGet } from 'node:https';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { collect } from '../../test/support/bus.js';
import { runCli, startLocalGateway } from '../../test/support/cli.js';
import {
  startStack,
  startTestGateway,
  type TestGateway,
  type TestStack,
} from '../../test/support/gateway.js';
import { CONTRACT_HELLO } from '../../test/support/picket.js';
import { ensureGeneratedCertificates, loadTls } from '../src/transports/tls.js';

let stack: TestStack;
let gateway: TestGateway;
let ca: Buffer;

beforeAll(async () => {
  stack = await startStack({ tls: 'auto', mqttTlsPort: 0 });
  gateway = stack.gateway;
  expect(gateway.tlsCaFile).toBeDefined();
  ca = await readFile(gateway.tlsCaFile!);
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

/** An MQTT device over mqtts://, trusting only the gateway's CA and checking the host name. */
function connectTls(host: string, id: string, token: string, options: mqtt.IClientOptions = {}) {
  return mqtt.connectAsync(`mqtts://${host}:${gateway.mqttTlsPort}`, {
    clientId: id,
    username: id,
    password: token,
    reconnectPeriod: 0,
    ca,
    rejectUnauthorized: true,
    ...options,
  });
}

let adminToken: Promise<string> | undefined;

/** GET over HTTPS with an admin API token, trusting the gateway's CA. */
async function httpsText(path: string): Promise<{ statusCode: number | undefined; body: string }> {
  adminToken ??= gateway.token('admin');
  const headers = { authorization: `Bearer ${await adminToken}` };
  return new Promise((resolve, reject) => {
    httpsGet(`https://localhost:${gateway.httpPort}${path}`, { ca, headers }, (res) => {
      let body = '';
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ statusCode: res.statusCode, body }));
    }).on('error', reject);
  });
}

const handshakeFailures = async (transport: string) => {
  const line = (await httpsText('/metrics')).body
    .split('\n')
    .find((l) => l.startsWith(`sentinel_tls_handshake_failures_total{transport="${transport}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
};

describe('TLS', () => {
  it('delivers a reading from an MQTT.js device over mqtts:// that verified the certificate', async () => {
    const token = await gateway.addDevice('tls-mqtt');
    const states = await collect<{ value: unknown; source: { device_id: string } }>(
      stack.bus,
      'sentinel.state.>',
    );
    const device = await connectTls('localhost', 'tls-mqtt', token);
    try {
      expect((device.stream as unknown as { authorized: boolean }).authorized).toBe(true);
      await device.publishAsync('picket/tls-mqtt/hello', JSON.stringify(CONTRACT_HELLO), { qos: 1 });
      await device.publishAsync(
        'picket/tls-mqtt/state',
        JSON.stringify({ seq: 1, values: { temperature: 19.5 } }),
        {
          qos: 1,
        },
      );
      const reading = await states.next((m) => m.source.device_id === 'picket-tls-mqtt');
      expect(reading.value).toBe(19.5);
    } finally {
      await device.endAsync();
      states.stop();
    }
    // the certificate names 127.0.0.1 too
    const byIp = await connectTls('127.0.0.1', 'tls-mqtt', token);
    await byIp.endAsync();
  });

  it('is refused by clients that do not trust its CA or asked for another host name', async () => {
    const token = await gateway.addDevice('tls-untrusted');
    await expect(connectTls('localhost', 'tls-untrusted', token, { ca: [] as never })).rejects.toMatchObject({
      code: expect.stringMatching(/SELF_SIGNED|UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY/),
    });
    await expect(
      connectTls('localhost', 'tls-untrusted', token, { servername: 'not-this-gateway.example' }),
    ).rejects.toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });

  it('drops a plain-TCP MQTT client on the TLS port, counts it, and disturbs no one else', async () => {
    const token = await gateway.addDevice('tls-steady');
    const steady = await connectTls('localhost', 'tls-steady', token);
    const before = await handshakeFailures('mqtt');
    try {
      const socket = tcpConnect(gateway.mqttTlsPort!, '127.0.0.1');
      await once(socket, 'connect');
      // an MQTT 3.1.1 CONNECT, as a device that forgot TLS would send it
      socket.write(Buffer.from('101000044d5154540402003c000474657374', 'hex'));
      const received: Buffer[] = [];
      socket.on('data', (d: Buffer) => received.push(d));
      socket.on('error', () => {}); // a reset is a clean refusal too
      await once(socket, 'close');
      // no CONNACK (0x20): nothing of MQTT reached it
      expect(received.some((d) => d[0] === 0x20)).toBe(false);
      await expect.poll(() => handshakeFailures('mqtt')).toBe(before + 1);

      // the device already connected carries on
      expect(steady.connected).toBe(true);
      await steady.publishAsync('picket/tls-steady/hello', JSON.stringify(CONTRACT_HELLO), { qos: 1 });
      // plain MQTT still works on its own port
      const plain = await mqtt
        .connectAsync(`mqtt://127.0.0.1:${gateway.mqttPort}`, {
          clientId: 'tls-steady-plain',
          reconnectPeriod: 0,
        })
        .catch((error: { code?: number }) => error);
      expect((plain as { code?: number }).code).toBe(5); // refused by auth, i.e. MQTT answered
    } finally {
      await steady.endAsync();
    }
  });

  it('serves HTTPS and WSS on the HTTP port: a picket device over wss:// gets its readings acknowledged', async () => {
    const status = await httpsText('/status');
    expect(status.statusCode).toBe(200);
    expect(JSON.parse(status.body)).toMatchObject({ node_id: 'test' });

    const token = await gateway.addDevice('tls-ws');
    const ws = new WebSocket(`wss://localhost:${gateway.httpPort}/picket`, {
      ca,
      headers: { authorization: `Bearer tls-ws:${token}` },
    });
    const frames: Record<string, unknown>[] = [];
    const acked = new Promise<void>((resolve) =>
      ws.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as Record<string, unknown>;
        frames.push(frame);
        if (frame.type === 'ack' && frame.seq === 1) resolve();
      }),
    );
    await once(ws, 'open');
    ws.send(JSON.stringify({ type: 'hello', ...CONTRACT_HELLO }));
    ws.send(JSON.stringify({ type: 'state', seq: 1, values: { temperature: 22 } }));
    await acked;
    ws.close();

    // plain HTTP to the HTTPS port is dropped during the handshake and counted
    const before = await handshakeFailures('https');
    await expect(fetch(`http://127.0.0.1:${gateway.httpPort}/status`)).rejects.toThrow();
    await expect.poll(() => handshakeFailures('https')).toBe(before + 1);
  });

  it('uses certificates the user provides (--tls-cert/--tls-key)', async () => {
    // the generated server certificate, given as files: the path a user's own certificate takes
    const dir = gateway.tlsCaFile!.replace(/ca\.pem$/, '');
    const own = await startTestGateway(stack.nats, {
      tlsCert: `${dir}server.pem`,
      tlsKey: `${dir}server.key`,
      mqttTlsPort: 0,
      nodeId: 'tls-own',
    });
    try {
      expect(own.tlsCaFile).toBeUndefined(); // nothing generated
      const socket = tlsConnect({ host: '127.0.0.1', port: own.mqttTlsPort!, ca, servername: 'localhost' });
      await once(socket, 'secureConnect');
      expect(socket.authorized).toBe(true);
      socket.destroy();
    } finally {
      await own.stop();
    }
  });

  it('keeps generated certificates across restarts, keys readable by the owner only', async () => {
    const dir = dirname(gateway.tlsCaFile!);
    const before = await readFile(join(dir, 'server.pem'));
    const again = await ensureGeneratedCertificates(dir);
    expect(await readFile(again.cert)).toEqual(before);
    expect(await readFile(again.ca)).toEqual(ca);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    for (const key of ['ca.key', 'server.key'])
      expect((await stat(join(dir, key))).mode & 0o777, key).toBe(0o600);
  });

  it('turns on through the real CLI and its environment (SENTINEL_TLS=auto), and says where', async () => {
    const data = await mkdtemp(join(tmpdir(), 'sentinel-tls-cli-'));
    const cli = await startLocalGateway(['--nats', stack.nats.url, '--data', data], {
      SENTINEL_TLS: 'auto',
      SENTINEL_MQTT_TLS_PORT: '0',
      SENTINEL_NODE_ID: 'tls-cli',
    });
    try {
      // the ready line on stdout says where MQTT over TLS listens
      expect(cli.ready.mqtt_tls_port).toEqual(expect.any(Number));
      expect(cli.ready.mqtt_tls_port).not.toBe(cli.ready.mqtt_port);
      // the log line on stderr (which may arrive after the ready line) says where the CA is
      const logged = () =>
        cli
          .stderr()
          .split('\n')
          .slice(0, -1) // the last piece may be a line still arriving
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .find((l) => l.msg === 'gateway ready');
      while (!logged()) await once(cli.process.stderr!, 'data');
      expect(logged()).toMatchObject({
        tls: 'generated',
        tls_ca: join(data, 'tls', 'ca.pem'),
        mqtt_tls_port: cli.ready.mqtt_tls_port,
      });
      const cliCa = await readFile(join(data, 'tls', 'ca.pem'));
      const socket = tlsConnect({
        host: '127.0.0.1',
        port: cli.ready.mqtt_tls_port!,
        ca: cliCa,
        servername: 'localhost',
      });
      await once(socket, 'secureConnect');
      expect(socket.authorized).toBe(true);
      socket.destroy();
    } finally {
      await cli.stop();
      await rm(data, { recursive: true, force: true });
    }
  });

  it('refuses bad TLS options through the CLI as usage errors: exit 2, one line naming the option', async () => {
    const usage = async (args: string[], env: NodeJS.ProcessEnv, says: string) => {
      const result = await runCli(['gateway', '--nats', stack.nats.url, ...args], env);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toContain(says);
      expect(result.stderr).not.toContain('--verbose');
    };
    await usage(['--tls-cert', '/nonexistent.pem'], {}, '--tls-cert: --tls-cert and --tls-key go together');
    await usage([], { SENTINEL_TLS_KEY: '/nonexistent.key' }, 'SENTINEL_TLS_KEY: ');
    await usage(['--tls', 'sometimes'], {}, '--tls: ');
    await usage(
      ['--tls', 'auto', '--tls-cert', '/a.pem', '--tls-key', '/a.key'],
      {},
      '--tls: auto generates certificates',
    );
    // files that cannot be read are found when the gateway starts, and said the same way
    const data = await mkdtemp(join(tmpdir(), 'sentinel-tls-bad-'));
    try {
      await usage(
        ['--tls-cert', '/nonexistent.pem', '--tls-key', '/nonexistent.key', '--data', data],
        {},
        'cannot read the TLS certificate /nonexistent.pem',
      );
    } finally {
      await rm(data, { recursive: true, force: true });
    }
  });

  it('says how to go on when openssl is missing, and leaves no half-made certificates', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sentinel-tls-noopenssl-'));
    const path = process.env.PATH;
    process.env.PATH = dir; // an empty directory: no openssl on it
    try {
      await expect(ensureGeneratedCertificates(join(dir, 'tls'))).rejects.toMatchObject({
        name: 'TlsSetupError',
        message: expect.stringContaining('openssl is not installed'),
      });
    } finally {
      process.env.PATH = path;
    }
    expect((await readdir(join(dir, 'tls'))).filter((f) => f.endsWith('.pem') || f.endsWith('.key'))).toEqual(
      [],
    );
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses inconsistent TLS options with a clear error before starting', async () => {
    await expect(loadTls({ tls: 'off', tlsCert: '/x.pem', dataDir: '.' })).rejects.toThrow(/go together/);
    await expect(loadTls({ tls: 'auto', tlsCert: '/x.pem', tlsKey: '/x.key', dataDir: '.' })).rejects.toThrow(
      /leave it out/,
    );
    await expect(
      loadTls({ tls: 'off', tlsCert: '/nonexistent/cert.pem', tlsKey: '/nonexistent/key.pem', dataDir: '.' }),
    ).rejects.toMatchObject({ name: 'TlsSetupError' });
    expect(await loadTls({ tls: 'off', dataDir: '.' })).toBeUndefined();
  });
});
