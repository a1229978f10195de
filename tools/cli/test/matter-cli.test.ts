// `sentinel simulate matter` and `sentinel matter-server` as a user runs them: a simulated
// light paired through the server's WebSocket API, switched, and still paired after the
// server restarts on the same --storage.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, type Event } from '../../../bridges/matter/test/support.js';
import { killStrays, runCli, SENTINEL_BIN, track } from '../../../test/support/cli.js';
import { parseMatterSimulation } from '../src/commands/simulate-matter.js';

interface Running<T> {
  ready: T;
  child: ChildProcess;
  stderr(): string;
  /** SIGTERM; resolves with the exit code */
  stop(): Promise<number | null>;
}

/** Starts `sentinel <args>` and resolves with the JSON line it prints once ready. */
async function startCli<T>(args: string[]): Promise<Running<T>> {
  const child = track(
    spawn(process.execPath, [SENTINEL_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  const ready = await new Promise<T>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line) as T));
    child.once('exit', (code) => reject(new Error(`sentinel ${args[0]} exited ${code}: ${stderr}`)));
  });
  return {
    ready,
    child,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      return (await exited)[0] as number | null;
    },
  };
}

const isAttribute = (nodeId: unknown, path: string, value: unknown) => (e: Event) =>
  e.event === 'attribute_updated' &&
  Array.isArray(e.data) &&
  e.data[0] === nodeId &&
  e.data[1] === path &&
  e.data[2] === value;

const simulateLight = [
  'simulate',
  'matter',
  '--type',
  'on-off-light',
  '--passcode',
  '20202021',
  '--discriminator',
  '3840',
];

interface SimReady {
  type: string;
  manual_pairing_code: string;
  qr_payload: string;
  host: string;
  port: number;
  endpoint: number;
}
interface ServerReady {
  url: string;
  port: number;
}

describe('sentinel simulate matter + sentinel matter-server', () => {
  let dir: string;
  let light: Running<SimReady>;
  let server: Running<ServerReady>;
  const startServer = () =>
    startCli<ServerReady>(['matter-server', '--port', '0', '--storage', dir, '--loopback-only']);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sentinel-matter-cli-'));
    // both load matter.js for a few seconds: side by side
    [light, server] = await Promise.all([startCli<SimReady>(simulateLight), startServer()]);
  });

  afterAll(async () => {
    killStrays();
    await rm(dir, { recursive: true, force: true });
  });

  it('prints the pairing codes and address of the simulated device, and where the server listens', () => {
    expect(light.ready).toMatchObject({ type: 'on-off-light', host: '127.0.0.1' });
    expect(light.ready.manual_pairing_code).toMatch(/^\d{11}$/);
    expect(light.ready.qr_payload).toMatch(/^MT:[0-9A-Z.-]+$/);
    expect(light.ready.port).toBeGreaterThan(0);
    expect(server.ready.url).toBe(`ws://127.0.0.1:${server.ready.port}/ws`);
    expect(server.ready.port).toBeGreaterThan(0);
  });

  it('pairs the device, switches it, keeps the pairing across a restart, and both stop on SIGTERM', {
    timeout: 30_000,
  }, async () => {
    const { endpoint } = light.ready;
    const onOff = `${endpoint}/6/0`;
    let client = new ApiClient(server.ready.url);
    try {
      await client.serverInfo;
      expect(await client.result('start_listening')).toEqual([]);
      const node = await client.result<{ node_id: number | bigint }>('commission_with_code', {
        code: light.ready.manual_pairing_code,
        ip_addr: light.ready.host,
        port: light.ready.port,
      });
      const nodeId = node.node_id;
      await client.result('device_command', {
        node_id: nodeId,
        endpoint_id: endpoint,
        cluster_id: 6,
        command_name: 'On',
        payload: {},
      });
      // the light's own report of its new state, through the server's subscription
      await client.event(isAttribute(nodeId, onOff, true));
      client.close();

      expect(await server.stop()).toBe(0);
      server = await startServer();
      client = new ApiClient(server.ready.url);
      await client.serverInfo;
      const nodes = await client.result<Array<{ node_id: number | bigint }>>('start_listening');
      expect(nodes.map((n) => n.node_id)).toEqual([nodeId]);
      // still operational after the restart, not just remembered: the light goes off
      await client.result('device_command', {
        node_id: nodeId,
        endpoint_id: endpoint,
        cluster_id: 6,
        command_name: 'Toggle',
        payload: {},
      });
      await client.event(isAttribute(nodeId, onOff, false));

      // the light first: a device whose controller is gone takes seconds to close its sessions
      expect(await light.stop()).toBe(0);
      expect(await server.stop()).toBe(0);
    } finally {
      client.close();
    }
  });
});

describe('option checks of simulate matter', () => {
  const flags = { type: 'on-off-light', passcode: '20202021', discriminator: '3840' };
  it.each([
    [
      { type: 'toaster' },
      /--type: unknown device type "toaster"; use one of on-off-light, .*temperature-sensor/,
    ],
    [{ passcode: '11111111' }, /--passcode: 11111111 is one of the trivial passcodes/],
    [{ passcode: '12345678' }, /--passcode: 12345678 is one of the trivial passcodes/],
    [{ passcode: '87654321' }, /--passcode: 87654321 is one of the trivial passcodes/],
    [{ passcode: '0' }, /--passcode: must be 1…99999998, got 0/],
    [{ passcode: '100000000' }, /--passcode: must be 1…99999998/],
    [{ passcode: '2e7' }, /--passcode: must be a whole number/],
    [{ discriminator: '4096' }, /--discriminator: must be 0…4095/],
    [{ port: '70000' }, /--port: must be 0…65535/],
  ])('refuses %j', (bad, message) => {
    expect(() => parseMatterSimulation({ ...flags, ...bad })).toThrow(message);
  });

  it('accepts the edges of the ranges; port 0 means a free one', () => {
    expect(
      parseMatterSimulation({ ...flags, passcode: '99999998', discriminator: '4095', port: '0' }),
    ).toEqual({
      type: 'on-off-light',
      passcode: 99999998,
      discriminator: 4095,
      port: undefined,
    });
  });
});

// each case is a process start; in parallel they take about as long as one
describe.concurrent('bad options exit 2 with a message saying what is wrong', () => {
  it.each([
    [
      ['simulate', 'matter', '--type', 'toaster', '--passcode', '20202021', '--discriminator', '1'],
      /--type: unknown device type "toaster"/,
    ],
    [['matter-server', '--port', '70000'], /--port: must be a TCP port/],
  ])('sentinel %j', async (args, message) => {
    const result = await runCli(args);
    expect(result.stderr).toMatch(message);
    expect(result.code).toBe(2);
  });
});
