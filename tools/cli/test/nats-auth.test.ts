// `sentinel nats-auth`: the generated operator, accounts and credentials, proved
// against Debian's real nats-server running the generated configuration, with a
// real gateway process (`--nats-creds`) and a real MQTT device.

import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kvm } from '@nats-io/kv';
import {
  connect,
  credsAuthenticator,
  type NatsConnection,
  PermissionViolationError,
  RequestError,
} from '@nats-io/transport-node';
import { buildAppImage } from '@sentinel/firmware';
import { type LeaderHandle, lockRecordOf, runWhileLeader } from '@sentinel/gateway';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliGateway, killStrays, runCli, startLocalGateway } from '../../../test/support/cli.js';
import { spawnNatsServer } from '../../../test/support/nats.js';
import { CONTRACT_HELLO, connectDevice } from '../../../test/support/picket.js';

/** Seeds of any kind (operator, account, user): `S` + kind letter + base32. */
const SEED = /\bS[OAUNC][A-Z2-7]{50,}/;

interface AuthServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** nats-server with the generated configuration, on 127.0.0.1 and a free port (flags override the file). */
async function startAuthServer(config: string, fixedPort = -1): Promise<AuthServer> {
  const { port, stop } = await spawnNatsServer(['-c', config, '-a', '127.0.0.1', '-p', String(fixedPort)]);
  return { url: `nats://127.0.0.1:${port}`, port, stop };
}

async function connectAs(url: string, credsFile: string, name: string): Promise<NatsConnection> {
  return connect({
    servers: url,
    name,
    authenticator: credsAuthenticator(await readFile(credsFile)),
    maxReconnectAttempts: 0,
  });
}

/** Resolves with the first permission violation the server reports on this connection. */
async function nextViolation(nc: NatsConnection): Promise<PermissionViolationError> {
  for await (const status of nc.status()) {
    if (status.type === 'error' && status.error instanceof PermissionViolationError) return status.error;
  }
  throw new Error('connection closed without a permission violation');
}

/** Publishes `subject` and resolves once the server has refused it as a permission violation. */
async function publishRefused(nc: NatsConnection, subject: string, body = '{}'): Promise<void> {
  const violation = nextViolation(nc);
  nc.publish(subject, body);
  const error = await violation;
  expect(error).toBeInstanceOf(PermissionViolationError);
  expect(error).toMatchObject({ operation: 'publish', subject });
}

/** Answers every request on `subject` with {"ok":true}, once the server has the subscription. */
async function answerOk(nc: NatsConnection, subject: string): Promise<void> {
  nc.subscribe(subject, {
    callback: (_error, msg) => {
      msg.respond('{"ok":true}');
    },
  });
  await nc.flush();
}

/** Subscribes and resolves once the server has the subscription; `received` fills as messages arrive. */
async function listen(nc: NatsConnection, subject: string) {
  const received: { subject: string; data: string }[] = [];
  const waiters: { subject: string; resolve: () => void }[] = [];
  nc.subscribe(subject, {
    callback: (_error, msg) => {
      received.push({ subject: msg.subject, data: msg.string() });
      for (const w of waiters.filter((w) => w.subject === msg.subject)) w.resolve();
    },
  });
  await nc.flush();
  return {
    received,
    got: (s: string) =>
      received.some((m) => m.subject === s)
        ? Promise.resolve()
        : new Promise<void>((resolve) => waiters.push({ subject: s, resolve })),
  };
}

describe('sentinel nats-auth', () => {
  let dir: string;
  let out: string;
  let creds: (name: string) => string;
  let server: AuthServer;
  let gateway: CliGateway;
  let initStdout: string;
  let initStderr: string;
  const open: NatsConnection[] = [];
  const as = async (name: string) => {
    const nc = await connectAs(server.url, creds(name), name);
    open.push(nc);
    return nc;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sentinel-nats-auth-'));
    out = join(dir, 'auth');
    creds = (name) => join(out, 'creds', `${name}.creds`);
    const init = await runCli([
      'nats-auth',
      'init',
      '--dir',
      out,
      '--proxy',
      'porch',
      '--proxy',
      'attic',
      '--store-dir',
      join(dir, 'js'),
    ]);
    expect(init.code, init.stderr).toBe(0);
    initStdout = init.stdout;
    initStderr = init.stderr;
    server = await startAuthServer(join(out, 'nats-server.conf'));
    gateway = await startLocalGateway([
      '--nats',
      server.url,
      '--nats-creds',
      creds('gateway'),
      '--data',
      join(dir, 'data'),
      '--node-id',
      'auth-test',
      '--log-level',
      'warn',
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all(open.map((nc) => nc.close().catch(() => {})));
    await gateway?.stop();
    await server?.stop();
    killStrays();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes owner-only files, prints paths and public keys, never a seed', async () => {
    const result = JSON.parse(initStdout);
    expect(result.accounts).toEqual({
      SYS: expect.stringMatching(/^A/),
      SENTINEL: expect.stringMatching(/^A/),
      RELAY: expect.stringMatching(/^A/),
    });
    expect(result.users.map((u: { name: string }) => u.name).sort()).toEqual(
      ['attic', 'automations', 'gateway', 'matter', 'porch', 'relay', 'sys']
        .map((n) => (n === 'porch' || n === 'attic' ? `ble-proxy-${n}` : n))
        .sort(),
    );
    expect(initStdout).not.toMatch(SEED);
    expect(initStderr).not.toMatch(SEED);
    expect(await readFile(creds('gateway'), 'utf8')).toMatch(SEED); // the seed is in the file, only there

    expect((await stat(out)).mode & 0o777).toBe(0o700);
    for (const sub of ['keys', 'creds']) {
      expect((await stat(join(out, sub))).mode & 0o777).toBe(0o700);
      for (const file of await readdir(join(out, sub)))
        expect((await stat(join(out, sub, file))).mode & 0o777, file).toBe(0o600);
    }
    expect((await stat(join(out, 'nats-server.conf'))).mode & 0o777).toBe(0o600);
  });

  it('refuses to overwrite an existing directory without --force, and leaves it untouched', async () => {
    const before = await readFile(creds('gateway'), 'utf8');
    const again = await runCli(['nats-auth', 'init', '--dir', out]);
    expect(again.code).toBe(1);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    expect(again.stderr).toContain('--force');
    expect(await readFile(creds('gateway'), 'utf8')).toBe(before);

    const bad = await runCli(['nats-auth', 'add-proxy', 'Not.Valid', '--dir', out]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('invalid proxy id');
    const missing = await runCli(['nats-auth', 'revoke', 'nobody', '--dir', out]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no active credential named "nobody"');
    const notADir = await runCli(['nats-auth', 'add-proxy', 'x', '--dir', join(dir, 'nope')]);
    expect(notADir.code).toBe(1);
    expect(notADir.stderr).toContain('not a nats-auth directory');

    // --force replaces every key of a directory that is in the way
    const other = join(dir, 'other');
    // (--out, the first name of --dir, still works and says it is deprecated)
    const byOldName = await runCli(['nats-auth', 'init', '--out', other]);
    expect(byOldName.code, byOldName.stderr).toBe(0);
    expect(byOldName.stderr).toMatch(/^nats-auth: --out is deprecated, use --dir/m);
    expect(JSON.parse(byOldName.stdout).server_config).toBe(join(other, 'nats-server.conf'));
    const oldOperator = await readFile(join(other, 'operator.jwt'), 'utf8');
    expect((await runCli(['nats-auth', 'init', '--dir', other])).code).toBe(1);
    const forced = await runCli(['nats-auth', 'init', '--dir', other, '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(await readFile(join(other, 'operator.jwt'), 'utf8')).not.toBe(oldOperator);
    // init needs a directory, by one name
    const none = await runCli(['nats-auth', 'init']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--dir <dir>/);
    const both = await runCli(['nats-auth', 'init', '--dir', other, '--out', join(dir, 'elsewhere')]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--out is the old name of --dir/);

    // a damaged seed file is named, and nothing of what it holds is printed
    const damaged = join(other, 'keys', 'signing-SENTINEL-proxy.nk');
    await writeFile(damaged, 'SUAnot-a-seed-at-all');
    const broken = await runCli(['nats-auth', 'add-proxy', 'shed', '--dir', other]);
    expect(broken.code).toBe(1);
    expect(broken.stderr.trim().split('\n')).toHaveLength(1);
    expect(broken.stderr).toContain(`${damaged} does not hold a valid nkey seed`);
    expect(broken.stderr).not.toContain('not-a-seed');
    expect(broken.stderr).not.toContain('--verbose');
  }, 120_000);

  it('runs a real gateway with the gateway credential: a device reading reaches automations and the relay', async () => {
    const automations = await as('automations');
    const relay = await as('relay');
    const automationsState = await listen(automations, 'sentinel.state.>');
    const relaySeen = await listen(relay, 'sentinel.>');

    const added = await runCli([
      'device',
      'add',
      'hall',
      '--nats',
      server.url,
      '--nats-creds',
      creds('gateway'),
    ]);
    expect(added.code, added.stderr).toBe(0);
    const { token } = JSON.parse(added.stdout);
    const device = await connectDevice({ mqttPort: gateway.ready.mqtt_port }, 'hall', token);
    try {
      await device.publishAsync('picket/hall/hello', JSON.stringify(CONTRACT_HELLO), { qos: 1 });
      await device.publishAsync(
        'picket/hall/state',
        JSON.stringify({ seq: 1, values: { temperature: 21.5 } }),
        {
          qos: 1,
        },
      );
      const reading = await new Promise<{ subject: string; data: string }>((resolve) => {
        const poll = () => {
          const found = automationsState.received.find((m) => JSON.parse(m.data).value === 21.5);
          if (found) resolve(found);
          else void automations.flush().then(poll);
        };
        poll();
      });
      const entityId = JSON.parse(reading.data).entity_id as string;
      await relaySeen.got(`sentinel.state.${entityId}`);
      await relaySeen.got('sentinel.device.picket-hall.availability');

      // automations reads the model from KV ...
      const kvm = new Kvm(automations);
      const state = await kvm.open('sentinel_state');
      await expect.poll(async () => (await state.get(entityId))?.json<{ value: number }>().value).toBe(21.5);
      const devices = await kvm.open('sentinel_devices');
      expect((await devices.get('picket-hall'))?.json<{ online: boolean }>().online).toBe(true);
      // ... and cannot write it
      const put = await state
        .put(entityId, JSON.stringify({ entity_id: entityId, value: -1, ts: Date.now() }))
        .then(
          () => undefined,
          (error: Error) => error,
        );
      expect(put).toBeInstanceOf(RequestError);
      expect(put?.cause).toBeInstanceOf(PermissionViolationError);
      expect(put?.cause).toMatchObject({ operation: 'publish', subject: `$KV.sentinel_state.${entityId}` });
      await expect(state.delete(entityId)).rejects.toBeInstanceOf(RequestError);
      expect((await state.get(entityId))?.json<{ value: number }>().value).toBe(21.5);
      // its own bucket, made by the gateway, is the one it writes (durable timers, state)
      const own = await kvm.open('sentinel_automations');
      await own.put('probe.timer', '{"due":1}');
      expect((await own.get('probe.timer'))?.string()).toBe('{"due":1}');
      await own.delete('probe.timer');

      // automations sends a command; the device confirms it
      device.on('message', (_topic, payload) => {
        const command = JSON.parse(payload.toString()) as { cid: string };
        void device.publishAsync('picket/hall/cmd/result', JSON.stringify({ cid: command.cid, ok: true }), {
          qos: 1,
        });
      });
      await device.subscribeAsync('picket/hall/cmd', { qos: 1 });
      const entities = await kvm.open('sentinel_entities');
      let relayEntity: string | undefined;
      for await (const key of await entities.keys()) {
        const entity = (await entities.get(key))?.json<{ bindings: { key: string }[] }>();
        if (entity?.bindings.some((b) => b.key === 'relay')) relayEntity = key;
      }
      expect(relayEntity).toBeDefined();
      const reply = await automations.request(
        `sentinel.cmd.${relayEntity}`,
        JSON.stringify({ value: true }),
        {
          timeout: 10_000,
        },
      );
      expect(reply.json()).toEqual({ ok: true });

      // the relay may command too, across the account boundary (a service import)
      const relayReply = await relay.request(
        `sentinel.cmd.${relayEntity}`,
        JSON.stringify({ value: false }),
        {
          timeout: 10_000,
        },
      );
      expect(relayReply.json()).toEqual({ ok: true });
      // the gateway's own credential covers everything it does
      expect(gateway.stderr()).not.toMatch(/Permissions Violation/i);
    } finally {
      await device.endAsync();
    }
  }, 120_000);

  it('lets automations do nothing else: publishing state or availability is refused', async () => {
    const automations = await as('automations');
    await publishRefused(automations, 'sentinel.state.forged', JSON.stringify({ value: 1 }));
    // the connection carries on
    const reply = await automations.request('sentinel.cmd.unknown-entity', JSON.stringify({ value: 1 }), {
      timeout: 10_000,
    });
    expect(reply.json()).toMatchObject({ ok: false, error: { code: 'invalid' } });
  });

  it.each([
    ['automations', 'sentinel_automations'],
    ['matter', 'sentinel_matter'],
  ] as const)(
    'lets %s hold its own leader lock and write its own bucket %s, and nothing else',
    async (role, bucket) => {
      const nc = await as(role);
      const kvm = new Kvm(nc);
      const locks = await kvm.open('sentinel_locks');
      let handle: LeaderHandle | undefined;
      const leading = new Promise<void>((resolve) => {
        handle = runWhileLeader(
          { kv: { locks } },
          { subsystem: role, nodeId: `${role}-a`, ttlMs: 5_000, heartbeatMs: 1_000 },
          async () => {
            resolve();
            return { stop: async () => {} };
          },
        );
      });
      await leading;
      expect(lockRecordOf(await locks.get(role))).toMatchObject({ node_id: `${role}-a` });
      await handle?.stop();
      // its own bucket, which the gateway created: put and read back
      const own = await kvm.open(bucket);
      await own.put('probe', 'x');
      expect((await own.get('probe'))?.string()).toBe('x');
      // another subsystem's lock and another role's bucket stay out of reach
      await publishRefused(nc, '$KV.sentinel_locks.registry');
      // and a node started with the wrong credential says so instead of waiting on standby in silence
      let said: (message: string) => void = () => {};
      const message = new Promise<string>((resolve) => {
        said = resolve;
      });
      const log = {
        child: () => log,
        debug() {},
        info() {},
        warn() {},
        error: (_: unknown, msg: string) => said(msg),
      };
      const wrong = runWhileLeader(
        { kv: { locks } },
        { subsystem: 'registry', nodeId: `${role}-b`, ttlMs: 5_000, heartbeatMs: 1_000, log: log as never },
        () => Promise.reject(new Error('a refused lock must not start anything')),
      );
      expect(await message).toMatch(/may not hold the registry leader lock: this node stays on standby/);
      await wrong.stop();
      const other = bucket === 'sentinel_matter' ? 'sentinel_automations' : 'sentinel_matter';
      await publishRefused(nc, `$KV.${other}.probe`);
    },
  );

  it('lets only the gateway credential write the shared OTA catalog (the sentinel_firmware object store)', async () => {
    const image = join(dir, 'picket-2.0.0.bin');
    await writeFile(
      image,
      buildAppImage({
        chip: 'esp32s3',
        appDesc: { projectName: 'picket', version: '2.0.0', idfVersion: 'v5.3.1' },
        size: 64 * 1024,
      }),
    );
    const gatewayCreds = ['--nats', server.url, '--nats-creds', creds('gateway')];
    const added = await runCli(['firmware', 'add', image, ...gatewayCreds]);
    expect(added.code, added.stderr).toBe(0);
    const listed = await runCli(['firmware', 'list', ...gatewayCreds]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).images).toMatchObject([{ version: '2.0.0', chip: 'esp32s3' }]);
    // no other role may put an image where every gateway node would offer it
    for (const role of ['automations', 'matter']) {
      await publishRefused(await as(role), '$O.sentinel_firmware.C.forged');
    }
  });

  it('shows the relay only the subjects SENTINEL exports', async () => {
    const relay = await as('relay');
    const seen = await listen(relay, 'sentinel.>');
    const gw = await as('gateway');
    for (const subject of [
      'sentinel.entity.e1.availability',
      'sentinel.ble.proxy.porch.adv',
      'sentinel.matter.bridge.event',
      'sentinel.cmd.e1',
      'sentinel.device.picket-x.availability',
      'sentinel.state.marker',
    ])
      gw.publish(subject, '{}');
    await seen.got('sentinel.state.marker');
    // one publisher, one subscriber: order holds, so anything unexported would have come first
    expect(seen.received.map((m) => m.subject)).toEqual([
      'sentinel.device.picket-x.availability',
      'sentinel.state.marker',
    ]);
    await publishRefused(relay, 'sentinel.state.forged');
  });

  it('keeps the Matter bridge to sentinel.matter.>: its events reach the gateway, it answers requests, nothing else', async () => {
    const matter = await as('matter');
    const gw = await as('gateway');
    const events = await listen(gw, 'sentinel.matter.>');
    await answerOk(matter, 'sentinel.matter.cmd.>');
    matter.publish('sentinel.matter.event.4', '{"attribute":"on_off","value":true}');
    await events.got('sentinel.matter.event.4');
    const answer = await gw.request('sentinel.matter.cmd.read', '{}', { timeout: 10_000 });
    expect(answer.json()).toEqual({ ok: true });
    await publishRefused(matter, 'sentinel.state.forged');
  });

  it("refuses a proxy's publish to the command subjects and to another proxy's subjects", async () => {
    const porch = await as('ble-proxy-porch');
    const gw = await as('gateway');
    const gatewaySide = await listen(gw, 'sentinel.ble.proxy.>');

    await publishRefused(porch, 'sentinel.cmd.some-entity', '{"value":true}');
    await publishRefused(porch, 'sentinel.ble.proxy.attic.adv');

    // another proxy's GATT requests cannot be subscribed to
    const foreign = porch.subscribe('sentinel.ble.proxy.attic.gatt.>');
    await expect(
      (async () => {
        for await (const _ of foreign) {
          // never reached
        }
      })(),
    ).rejects.toBeInstanceOf(PermissionViolationError);

    // its own subjects work, and it answers the gateway's GATT requests
    await answerOk(porch, 'sentinel.ble.proxy.porch.gatt.>');
    porch.publish('sentinel.ble.proxy.porch.adv', '{"mac":"a4:c1:38:00:00:01"}');
    await gatewaySide.got('sentinel.ble.proxy.porch.adv');
    expect(gatewaySide.received.map((m) => m.subject)).not.toContain('sentinel.ble.proxy.attic.adv');
    const answer = await gw.request('sentinel.ble.proxy.porch.gatt.read', '{}', { timeout: 10_000 });
    expect(answer.json()).toEqual({ ok: true });
  });

  it('adds a proxy to a running server, and revokes one there (--push) without disturbing anyone else', async () => {
    const added = await runCli(['nats-auth', 'add-proxy', 'garage', '--dir', out]);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).not.toMatch(SEED);
    expect(JSON.parse(added.stdout)).toMatchObject({ name: 'ble-proxy-garage', role: 'proxy' });
    const duplicate = await runCli(['nats-auth', 'add-proxy', 'garage', '--dir', out]);
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toContain('already has a credential');

    const garage = await as('ble-proxy-garage');
    const attic = await as('ble-proxy-attic');
    const porch = await as('ble-proxy-porch');
    const gw = await as('gateway');
    const seen = await listen(gw, 'sentinel.ble.proxy.>');
    garage.publish('sentinel.ble.proxy.garage.adv', '{}');
    await seen.got('sentinel.ble.proxy.garage.adv');

    const disturbed: string[] = [];
    for (const [name, nc] of Object.entries({ attic, gw, garage }))
      void (async () => {
        for await (const status of nc.status()) if (status.type === 'disconnect') disturbed.push(name);
      })();
    const porchCreds = await readFile(creds('ble-proxy-porch'));
    const porchClosed = porch.closed();
    const revoked = await runCli(['nats-auth', 'revoke', 'porch', '--dir', out, '--push', server.url]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(JSON.parse(revoked.stdout)).toMatchObject({
      name: 'ble-proxy-porch',
      revoked: expect.any(Number),
      pushed: true,
    });
    await expect(stat(creds('ble-proxy-porch'))).rejects.toMatchObject({ code: 'ENOENT' });
    // the live connection of the revoked proxy is closed by the server ...
    await porchClosed;
    // ... and its credential no longer connects
    await expect(
      connect({
        servers: server.url,
        authenticator: credsAuthenticator(porchCreds),
        maxReconnectAttempts: 0,
      }),
    ).rejects.toThrow();
    // the others were never disconnected and carry on
    attic.publish('sentinel.ble.proxy.attic.adv', '{}');
    await seen.got('sentinel.ble.proxy.attic.adv');
    expect(disturbed).toEqual([]);
    expect(gateway.stderr()).not.toMatch(/NATS disconnected/);

    // a push to a server that does not run this directory's operator is refused, clearly
    const stranger = await runCli([
      'nats-auth',
      'revoke',
      'garage',
      '--dir',
      out,
      '--push',
      'nats://127.0.0.1:1',
    ]);
    expect(stranger.code).toBe(1);
    expect(stranger.stderr).toContain('cannot connect to nats://127.0.0.1:1 as the system user');

    // a new credential for the same id works again
    expect((await runCli(['nats-auth', 'add-proxy', 'porch', '--dir', out])).code).toBe(0);
    const porchAgain = await as('ble-proxy-porch');
    porchAgain.publish('sentinel.ble.proxy.porch.adv', '{"again":true}');
    await new Promise<void>((resolve) => {
      const check = () =>
        seen.received.some((m) => m.data === '{"again":true}') ? resolve() : void gw.flush().then(check);
      check();
    });

    // a revoked role gets a new credential with add-user; a second gateway node its own
    expect((await runCli(['nats-auth', 'revoke', 'matter', '--dir', out, '--push', server.url])).code).toBe(
      0,
    );
    const reissued = await runCli(['nats-auth', 'add-user', 'matter', '--dir', out]);
    expect(reissued.code, reissued.stderr).toBe(0);
    expect(reissued.stdout).not.toMatch(SEED);
    const second = await runCli(['nats-auth', 'add-user', 'gateway', '--name', 'gateway-b', '--dir', out]);
    expect(JSON.parse(second.stdout)).toMatchObject({
      name: 'gateway-b',
      role: 'gateway',
      account: 'SENTINEL',
    });
    const gatewayB = await as('gateway-b');
    await gatewayB.request('sentinel.cmd.unknown', '{"value":1}', { timeout: 10_000 });
    const matterAgain = await as('matter');
    matterAgain.publish('sentinel.matter.event.9', '{}');
    await matterAgain.flush();
    expect((await runCli(['nats-auth', 'add-user', 'gateway', '--dir', out])).code).toBe(1); // still active
    expect((await runCli(['nats-auth', 'add-user', 'root', '--dir', out])).code).toBe(2);
    for (const reserved of ['sys', 'ble-proxy-x', 'Bad.Name']) {
      const refused = await runCli(['nats-auth', 'add-user', 'gateway', '--name', reserved, '--dir', out]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain(`invalid user name "${reserved}"`);
    }
    // the manifest keeps the revoked matter credential beside the new one
    const manifest = JSON.parse(await readFile(join(out, 'sentinel-auth.json'), 'utf8')) as {
      users: { name: string; revoked?: number }[];
    };
    const matters = manifest.users.filter((u) => u.name === 'matter');
    expect(matters.map((u) => u.revoked !== undefined)).toEqual([true, false]);

    // a restart keeps the revocation (config preload and the resolver directory)
    const port = server.port;
    await Promise.all(open.splice(0).map((nc) => nc.close()));
    await server.stop();
    server = await startAuthServer(join(out, 'nats-server.conf'), port);
    await expect(
      connect({
        servers: server.url,
        authenticator: credsAuthenticator(porchCreds),
        maxReconnectAttempts: 0,
      }),
    ).rejects.toThrow();
    const atticAgain = await as('ble-proxy-attic');
    expect(atticAgain.isClosed()).toBe(false);
  }, 120_000);
});
