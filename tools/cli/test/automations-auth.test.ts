import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kvm } from '@nats-io/kv';
import { type NatsConnection, PermissionViolationError } from '@nats-io/transport-node';
import { lockRecordOf } from '@sentinel/gateway';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { collect, connectTestBus } from '../../../test/support/bus.js';
import { killStrays, runCli, startAutomationsRuntime } from '../../../test/support/cli.js';
import { type SpawnedNats, spawnNatsServer } from '../../../test/support/nats.js';

const SENSOR = '0190c000-0000-7000-8000-000000000001';
const LAMP = '0190c000-0000-7000-8000-000000000002';
const LOCK_TTL_MS = 2000;

let dir: string;
let creds: (name: string) => string;
let server: SpawnedNats;
let url: string;
let admin: NatsConnection;
let automations: NatsConnection;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sentinel-automations-auth-'));
  const out = join(dir, 'auth');
  creds = (name) => join(out, 'creds', `${name}.creds`);
  const init = await runCli(['nats-auth', 'init', '--dir', out, '--store-dir', join(dir, 'js')]);
  expect(init.code, init.stderr).toBe(0);
  server = await spawnNatsServer(['-c', join(out, 'nats-server.conf'), '-a', '127.0.0.1', '-p', '-1']);
  url = `nats://127.0.0.1:${server.port}`;
  // what the gateway makes at start, made here with its credential
  admin = await connectTestBus(url, creds('gateway'));
  const kvm = new Kvm(admin);
  const entities = await kvm.create('sentinel_entities', { history: 1 });
  await kvm.create('sentinel_state', { history: 1 });
  await kvm.create('sentinel_automations', { history: 1 });
  await kvm.create('sentinel_locks', { history: 1, ttl: LOCK_TTL_MS });
  await entities.put(SENSOR, JSON.stringify({ id: SENSOR, name: 'Door', platform: 'binary_sensor' }));
  await entities.put(LAMP, JSON.stringify({ id: LAMP, name: 'Porch lamp', platform: 'switch' }));
  admin.subscribe('sentinel.cmd.*', {
    callback: (_e, msg) => {
      msg.respond('{"ok":true}');
    },
  });
  await admin.flush();
  automations = await connectTestBus(url, creds('automations'));
  await writeFile(
    join(dir, 'door-lamp.ts'),
    `import { defineAutomation } from '@sentinel/automations';
export default defineAutomation({
  id: 'door-lamp',
  triggers: [{ kind: 'state', entity: 'Door', to: true }],
  run: (ctx) => ctx.command('Porch lamp', true),
});
`,
  );
}, 60_000);

afterAll(async () => {
  killStrays();
  await automations?.close();
  await admin?.close();
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

const startRuntime = () =>
  startAutomationsRuntime([
    dir,
    '--nats',
    url,
    '--nats-creds',
    creds('automations'),
    '--node-id',
    'auth-runtime',
    '--lock-ttl',
    String(LOCK_TTL_MS),
  ]);

/** Publishes `subject` on the automations connection and resolves once the server refused it. */
async function publishRefused(subject: string): Promise<void> {
  const violation = (async () => {
    for await (const status of automations.status())
      if (status.type === 'error' && status.error instanceof PermissionViolationError) return status.error;
    throw new Error('connection closed without a permission violation');
  })();
  automations.publish(subject, '{}');
  expect(await violation).toMatchObject({ operation: 'publish', subject });
}

it('takes the automations lock with the automations credential, executes, and releases the lock at SIGTERM', async () => {
  const commands = await collect(admin, 'sentinel.cmd.*');
  const locks = await new Kvm(admin).open('sentinel_locks');
  const runtime = startRuntime();
  await runtime.running;
  expect(lockRecordOf(await locks.get('automations'))).toMatchObject({
    node_id: 'auth-runtime',
    ttl_ms: LOCK_TTL_MS,
  });
  admin.publish(
    `sentinel.state.${SENSOR}`,
    JSON.stringify({ entity_id: SENSOR, value: true, ts: Date.now() }),
  );
  expect(await commands.next()).toEqual({ value: true });

  runtime.child.kill('SIGTERM');
  await once(runtime.child, 'exit');
  expect(runtime.child.exitCode).toBe(0);
  // released at once (a delete), not left to expire
  expect((await locks.get('automations'))?.operation).toBe('DEL');
  expect(runtime.stderr()).not.toMatch(/permissions? violation|cannot use the leader lock/i);
}, 30_000);

it('still refuses the automations credential every other lock key and every other bucket', async () => {
  for (const subject of [
    '$KV.sentinel_locks.registry',
    '$KV.sentinel_locks.ble',
    '$KV.sentinel_locks.automations.other',
    '$KV.sentinel_state.forged',
    '$KV.sentinel_entities.forged',
    '$KV.sentinel_devices.forged',
    '$JS.API.STREAM.PURGE.KV_sentinel_locks',
    '$JS.API.STREAM.DELETE.KV_sentinel_locks',
    '$JS.API.STREAM.UPDATE.KV_sentinel_locks',
  ])
    await publishRefused(subject);
  // and the refusals did not touch the lock bucket
  const keys: string[] = [];
  for await (const key of await (await new Kvm(admin).open('sentinel_locks')).keys()) keys.push(key);
  expect(keys.filter((k) => k !== 'automations')).toEqual([]);
});
