// A device built from Debian's mosquitto_pub / mosquitto_sub, following
// CONTRACT.md §4 alone, shows up as entities, its readings reach
// sentinel.state.*, and a plain NATS request commands it.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { collect, kvAll } from '../../test/support/bus.js';
import { runCli } from '../../test/support/cli.js';
import { startStack, type TestGateway, type TestStack } from '../../test/support/gateway.js';
import type { TestNats } from '../../test/support/nats.js';
import { CONTRACT_HELLO } from '../../test/support/picket.js';

const run = promisify(execFile);

let stack: TestStack;
let nats: TestNats;
let gateway: TestGateway;
let bus: NatsConnection;

beforeAll(async () => {
  stack = await startStack();
  ({ nats, gateway, bus } = stack);
});

afterAll(async () => {
  await stack?.stop();
});

it('works with mosquitto_pub and mosquitto_sub as the device', async () => {
  const added = await runCli(['device', 'add', 'mosq', '--nats', nats.url]);
  const { token } = JSON.parse(added.stdout) as { token: string };
  const auth = [
    '-h',
    '127.0.0.1',
    '-p',
    String(gateway.mqttPort),
    '-i',
    'mosq',
    '-u',
    'mosq',
    '-P',
    token,
    '-q',
    '1',
  ];
  const pub = (topic: string, message: string, ...extra: string[]) =>
    run('mosquitto_pub', [...auth, '-t', topic, '-m', message, ...extra]);

  await pub('picket/mosq/status', 'online', '-r');
  await pub('picket/mosq/hello', JSON.stringify(CONTRACT_HELLO));
  const entities = [
    ...(
      await kvAll<{ id: string; device_id: string; bindings: { key: string }[] }>(bus, 'sentinel_entities')
    ).values(),
  ].filter((e) => e.device_id === 'picket-mosq');
  const id = (key: string) => entities.find((e) => e.bindings[0]!.key === key)!.id;
  expect(entities).toHaveLength(2);

  const states = await collect<{ value: number; unit: string }>(bus, `sentinel.state.${id('temperature')}`);
  await pub('picket/mosq/state', JSON.stringify({ seq: 42, values: { temperature: 21.5, relay: false } }));
  expect(await states.next()).toMatchObject({ value: 21.5, unit: '°C' });

  // the device listens for one command, as its own connection (will included); -d shows the SUBACK,
  // and stdbuf makes mosquitto_sub write it at once instead of buffering its piped stdout
  const sub: ChildProcess = spawn('stdbuf', [
    '-oL',
    'mosquitto_sub',
    ...auth,
    '-d',
    '-t',
    'picket/mosq/cmd',
    '-C',
    '1',
    '-W',
    '20',
    '--will-topic',
    'picket/mosq/status',
    '--will-payload',
    'offline',
    '--will-retain',
  ]);
  let output = '';
  const subscribed = new Promise<void>((resolve) => {
    sub.stdout!.on('data', (d) => {
      output += d;
      if (output.includes('SUBACK')) resolve();
    });
  });
  const exited = once(sub, 'exit');
  await subscribed;
  const reply = bus.request(`sentinel.cmd.${id('relay')}`, JSON.stringify({ value: true }), {
    timeout: 10_000,
  });
  const [exitCode] = await exited;
  expect(exitCode).toBe(0);
  const command = JSON.parse(output.split('\n').find((line) => line.startsWith('{'))!) as { cid: string };
  expect(command).toMatchObject({ key: 'relay', value: true, cid: expect.any(String) });
  await pub('picket/mosq/cmd/result', JSON.stringify({ cid: command.cid, ok: true }));
  expect((await reply).json()).toEqual({ ok: true });
  states.stop();
});
