// The rollout engine's state machine against an in-memory OtaFleet (the device path has
// its own tests: ota-device.test.ts) and the real `sentinel_ota` bucket on a real
// nats-server, with a clock the test moves: canary, batches, pause on the first failure,
// resume, abort, deadlines, refusals, and resuming after a leader change.
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connectTestBus } from '../../test/support/bus.js';
import { until } from '../../test/support/cluster.js';
import { startNats, type TestNats } from '../../test/support/nats.js';
import { type Bus, openBus } from '../src/bus/bus.js';
import { type LeaderHandle, type LeaderLease, runWhileLeader } from '../src/bus/locks.js';
import { createLogger } from '../src/log.js';
import {
  type Answer,
  type CatalogImage,
  KvRolloutStore,
  type Rollout,
  RolloutEngine,
  type RolloutRequest,
  type RolloutStore,
  requestKey,
} from '../src/ota/rollout/index.js';
import { ClusterOtaFleet, OtaRelay } from '../src/ota/rollout/relay.js';
import type { OtaFleet, OtaImageRef, OtaProgress } from '../src/ota/types.js';

const sha = (n: number) => n.toString(16).padStart(64, '0');
const CATALOG: CatalogImage[] = [
  { sha256: sha(1), version: '1.5.0', size: 1000, chip: 'esp32s3', channel: 'stable', signature: null },
  { sha256: sha(2), version: '1.5.0', size: 1000, chip: 'esp32c3', channel: 'stable', signature: null },
  { sha256: sha(3), version: '1.3.0', size: 1000, chip: 'esp32s3', channel: 'stable', signature: null },
  { sha256: sha(4), version: '1.6.0-rc.1', size: 1000, chip: 'esp32s3', channel: 'beta', signature: null },
];

class Refusal extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** An OtaFleet of devices the test drives: it records what the engine asks and reports what the test says. */
class FakeFleet implements OtaFleet {
  readonly state = new Map<string, { fw: string; chip: string; model?: string; online: boolean }>();
  readonly offers: Array<{ device: string; offer: string; image: OtaImageRef }> = [];
  readonly confirms: string[] = [];
  readonly rollbacks: Array<{ device: string; offer: string; reason: string }> = [];
  readonly #listeners = new Set<(p: OtaProgress) => void>();

  add(device: string, fw = '1.4.0', chip = 'esp32s3', model?: string): void {
    this.state.set(device, { fw, chip, online: true, ...(model ? { model } : {}) });
  }
  async devices() {
    return [...this.state].map(([device, d]) => ({ device, ...d }));
  }
  async offer(device: string, image: OtaImageRef): Promise<string> {
    const d = this.state.get(device);
    if (!d?.online) throw new Refusal('offline', `${device} is not connected`);
    if (d.fw === image.version) throw new Refusal('already_installed', `${device} already runs ${d.fw}`);
    const offer = `offer-${this.offers.length + 1}`;
    this.offers.push({ device, offer, image });
    return offer;
  }
  /** as the real fleet: an offer this fleet never made is not its to confirm */
  #known(device: string, offer: string) {
    if (!this.offers.some((o) => o.device === device && o.offer === offer))
      throw new Refusal('unknown_offer', `no offer ${offer} is known for ${device}`);
  }
  async confirm(device: string, offer: string) {
    this.#known(device, offer);
    this.confirms.push(`${device}/${offer}`);
  }
  async rollback(device: string, offer: string, reason: string) {
    this.#known(device, offer);
    this.rollbacks.push({ device, offer, reason });
  }
  onProgress(listener: (p: OtaProgress) => void) {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  emit(progress: OtaProgress) {
    for (const listener of this.#listeners) listener(progress);
  }
  offered = () => this.offers.map((o) => o.device);
  offerOf = (device: string) => this.offers.findLast((o) => o.device === device)!.offer;
  /** the device downloads, reboots into `version` and is back: booted (the engine confirms), then confirmed */
  update(device: string, version = '1.5.0') {
    const offer = this.offerOf(device);
    this.emit({ device, offer, state: 'downloading', percent: 100 });
    this.state.get(device)!.fw = version;
    this.emit({ device, offer, state: 'booted', version });
    this.emit({ device, offer, state: 'confirmed', version });
  }
}

let nats: TestNats;
let nc: NatsConnection;
let bus: Bus;
let fleet: FakeFleet;
let clock: number;
/** the codes the engine counted as refused (sentinel_ota_rollout_refused_total) */
let refusals: string[] = [];
const handles: LeaderHandle[] = [];
const engines: RolloutEngine[] = [];
const log = createLogger('silent');

beforeAll(async () => {
  nats = await startNats();
  nc = await connectTestBus(nats.url);
  bus = await openBus(nc, undefined, { lockTtlMs: 3000 });
}, 30_000);

afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

beforeEach(async () => {
  fleet = new FakeFleet();
  clock = 1_000_000;
  refusals = [];
  await bus.kv.ota.purge('rollout').catch(() => undefined);
});

afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.stop()));
  await Promise.all(handles.splice(0).map((h) => h.stop()));
});

/** The real store, but its next `failSaves` saves throw, as a KV write that timed out does. */
class FlakyStore implements RolloutStore {
  failSaves = 0;
  failed = 0;
  constructor(private readonly real: RolloutStore) {}
  load() {
    return this.real.load();
  }
  async save(rollout: Rollout) {
    if (this.failSaves > 0) {
      this.failSaves -= 1;
      this.failed += 1;
      throw new Error('TIMEOUT');
    }
    await this.real.save(rollout);
  }
  requests(onRequest: Parameters<RolloutStore['requests']>[0]) {
    return this.real.requests(onRequest);
  }
  answer(id: string, answer: Answer, now: number) {
    return this.real.answer(id, answer, now);
  }
}

/** Becomes the `ota` leader (the real lock) and starts an engine on the real bucket (through `wrap` if given). */
async function leadEngine(
  nodeId = 'node-a',
  wrap: (store: RolloutStore) => RolloutStore = (store) => store,
): Promise<RolloutEngine> {
  let engine!: RolloutEngine;
  const started = new Promise<void>((resolve) => {
    handles.push(
      runWhileLeader(
        bus,
        { subsystem: 'ota', nodeId, ttlMs: 3000, heartbeatMs: 1000, graceMs: 1000 },
        async (lease: LeaderLease) => {
          engine = new RolloutEngine({
            fleet,
            store: wrap(new KvRolloutStore(bus.kv.ota, bus.kv.locks, lease)),
            catalog: async () => CATALOG,
            log,
            refused: (code) => refusals.push(code),
            now: () => clock,
            tickMs: 0,
          });
          await engine.start();
          engines.push(engine);
          resolve();
          return engine;
        },
      ),
    );
  });
  await started;
  return engine;
}

/** Writes a request as the CLI does and waits for the leader's answer in the same key. */
async function ask(
  engine: RolloutEngine,
  request: RolloutRequest | Record<string, unknown>,
): Promise<Answer> {
  const key = requestKey(randomUUID());
  const watch = await bus.kv.ota.watch({ key });
  await bus.kv.ota.put(key, JSON.stringify({ request, at: clock }));
  for await (const entry of watch) {
    const value = entry.operation === 'PUT' ? entry.json<{ answer?: Answer }>() : undefined;
    if (value?.answer) {
      watch.stop();
      await engine.idle();
      return value.answer;
    }
  }
  throw new Error('the watch ended without an answer');
}

async function stored(): Promise<Rollout> {
  return (await bus.kv.ota.get('rollout'))!.json<Rollout>();
}

const start = (devices: string[], extra: Record<string, unknown> = {}) => ({
  op: 'start',
  version: '1.5.0',
  devices,
  deadline_ms: 60_000,
  ...extra,
});

async function settle(engine: RolloutEngine) {
  await engine.idle();
  await engine.tick();
}

describe('stages', () => {
  it('updates the canary first, then batch by batch, each only once the one before is back and confirmed', async () => {
    for (const id of ['d1', 'd2', 'd3', 'd4', 'd5']) fleet.add(id);
    const engine = await leadEngine();
    expect(await ask(engine, start(['d1', 'd2', 'd3', 'd4', 'd5'], { canary: 1, batch: 2 }))).toMatchObject({
      ok: true,
      status: 'running',
    });
    expect((await stored()).stages).toEqual([['d1'], ['d2', 'd3'], ['d4', 'd5']]);
    expect(fleet.offered()).toEqual(['d1']);

    // booted is not enough: the next batch waits for the confirmation
    const offer = fleet.offerOf('d1');
    fleet.state.get('d1')!.fw = '1.5.0';
    fleet.emit({ device: 'd1', offer, state: 'booted', version: '1.5.0' });
    await settle(engine);
    expect(fleet.confirms).toEqual([`d1/${offer}`]);
    expect(fleet.offered()).toEqual(['d1']);
    fleet.emit({ device: 'd1', offer, state: 'confirmed', version: '1.5.0' });
    await settle(engine);
    expect(fleet.offered()).toEqual(['d1', 'd2', 'd3']);

    fleet.update('d2');
    await settle(engine);
    expect(fleet.offered()).toEqual(['d1', 'd2', 'd3']); // d3 is still on its way
    fleet.update('d3');
    await settle(engine);
    fleet.update('d4');
    fleet.update('d5');
    await settle(engine);
    const rollout = await stored();
    expect(rollout.status).toBe('completed');
    expect(Object.values(rollout.devices).map((d) => d.state)).toEqual(Array(5).fill('confirmed'));
    expect(fleet.rollbacks).toEqual([]);
  });

  it('does not offer the version to a device that already runs it, and picks the image for each chip', async () => {
    fleet.add('s3');
    fleet.add('c3', '1.4.0', 'esp32c3');
    fleet.add('done', '1.5.0');
    const engine = await leadEngine();
    expect(await ask(engine, start(['done', 's3', 'c3'], { canary: 0, batch: 5 }))).toMatchObject({
      ok: true,
    });
    expect(fleet.offers.map((o) => [o.device, o.image.sha256])).toEqual([
      ['s3', sha(1)],
      ['c3', sha(2)],
    ]);
    expect((await stored()).devices.done).toMatchObject({ state: 'skipped', reason: 'already runs 1.5.0' });
  });
});

describe('failures', () => {
  it('a device not back within the deadline is told to roll back and the rollout pauses naming it; resume goes on', async () => {
    for (const id of ['d1', 'd2', 'd3']) fleet.add(id);
    const engine = await leadEngine();
    await ask(engine, start(['d1', 'd2', 'd3'], { canary: 1, batch: 2, deadline_ms: 120_000 }));
    const offer = fleet.offerOf('d1');
    fleet.emit({ device: 'd1', offer, state: 'downloading', percent: 40 });
    await settle(engine);
    expect((await stored()).devices.d1).toMatchObject({ state: 'offered', percent: 40 });
    fleet.emit({ device: 'd1', offer, state: 'rebooting' });
    clock += 119_000;
    await settle(engine);
    expect((await stored()).status).toBe('running');
    clock += 2_000;
    await settle(engine);

    const rollout = await stored();
    expect(rollout).toMatchObject({ status: 'paused', paused_device: 'd1' });
    expect(rollout.paused_reason).toBe('d1 did not come back on 1.5.0 within the deadline (2m)');
    expect(fleet.rollbacks).toEqual([{ device: 'd1', offer, reason: expect.stringContaining('deadline') }]);
    clock += 600_000;
    await settle(engine);
    expect(fleet.offered()).toEqual(['d1']); // paused: nothing else offered

    expect(await ask(engine, { op: 'resume' })).toMatchObject({ ok: true, status: 'running' });
    expect(fleet.offered()).toEqual(['d1', 'd2', 'd3']);
    fleet.update('d2');
    fleet.update('d3');
    await settle(engine);
    const done = await stored();
    expect(done.status).toBe('completed');
    expect(done.devices.d1).toMatchObject({ state: 'failed' });
  });

  it('a device offline at its turn is offered once back; the deadline counts from the offer, not the pause', async () => {
    fleet.add('d1');
    fleet.state.get('d1')!.online = false;
    const engine = await leadEngine();
    await ask(engine, start(['d1'], { canary: 1, deadline_ms: 60_000 }));
    expect(fleet.offers).toEqual([]);
    expect((await stored()).devices.d1).toMatchObject({ state: 'pending', reason: 'd1 is not connected' });
    await ask(engine, { op: 'pause' });
    clock += 120_000;
    await settle(engine);
    await ask(engine, { op: 'resume' });
    expect((await stored()).devices.d1!.state).toBe('pending');
    fleet.state.get('d1')!.online = true;
    clock += 30_000;
    await settle(engine);
    expect(fleet.offered()).toEqual(['d1']);
    clock += 59_000;
    await settle(engine);
    expect((await stored()).status).toBe('running');
    clock += 2_000;
    await settle(engine);
    expect(await stored()).toMatchObject({ status: 'paused', paused_device: 'd1' });
  });

  it('a device that rolled back pauses the rollout at once, naming it', async () => {
    for (const id of ['d1', 'd2']) fleet.add(id);
    const engine = await leadEngine();
    await ask(engine, start(['d1', 'd2'], { canary: 0, batch: 2 }));
    fleet.emit({
      device: 'd2',
      offer: fleet.offerOf('d2'),
      state: 'rolled_back',
      version: '1.4.0',
      reason: 'crashed at boot',
    });
    await settle(engine);
    expect(await stored()).toMatchObject({
      status: 'paused',
      paused_device: 'd2',
      paused_reason: 'd2 rolled back to 1.4.0: crashed at boot',
    });
    // d1, already on its way, is still seen through
    fleet.update('d1');
    await settle(engine);
    expect((await stored()).devices.d1!.state).toBe('confirmed');
  });

  it('pause stops new offers; abort tells devices on their way to roll back', async () => {
    for (const id of ['d1', 'd2', 'd3']) fleet.add(id);
    const engine = await leadEngine();
    await ask(engine, start(['d1', 'd2', 'd3'], { canary: 1, batch: 1 }));
    expect(await ask(engine, { op: 'pause' })).toMatchObject({ ok: true, status: 'paused' });
    fleet.update('d1');
    await settle(engine);
    expect(fleet.offered()).toEqual(['d1']);
    await ask(engine, { op: 'resume' });
    expect(fleet.offered()).toEqual(['d1', 'd2']);
    expect(await ask(engine, { op: 'abort' })).toMatchObject({ ok: true, status: 'aborted' });
    expect(fleet.rollbacks).toEqual([
      { device: 'd2', offer: fleet.offerOf('d2'), reason: 'the rollout was aborted' },
    ]);
    await settle(engine);
    expect(fleet.offered()).toEqual(['d1', 'd2']);
    expect(await ask(engine, { op: 'resume' })).toMatchObject({ ok: false, code: 'no_rollout' });
  });
});

describe('refused before anything is offered', () => {
  it.each([
    [start(['d1', 'ghost', 'nobody']), 'unknown_devices', 'unknown devices: ghost, nobody'],
    [
      { ...start(['d1']), version: '9.9.9' },
      'not_in_catalog',
      'version 9.9.9 is not in the firmware catalog',
    ],
    [{ ...start(['d1']), version: '1.3.0' }, 'downgrade', '1.3.0 is older than what d1 (1.4.0) runs'],
    [{ ...start(['d1']), version: '1.6.0-rc.1', channel: 'stable' }, 'not_in_catalog', '(channel stable)'],
    [start(['d1', 'h2']), 'no_image_for_chip', 'not for h2 (esp32h2)'],
    [{ op: 'start', version: '1.5.0', canary: -1 }, 'bad_request', 'canary'],
    [{ op: 'launch' }, 'bad_request', 'bad request'],
    [{ op: 'start', model: 'no-such-model', version: '1.5.0' }, 'no_devices', 'no picket device of model'],
  ])('%j → %s', async (request, code, message) => {
    fleet.add('d1');
    fleet.add('h2', '1.4.0', 'esp32h2');
    const engine = await leadEngine();
    const answer = await ask(engine, request);
    expect(answer).toMatchObject({ ok: false, code });
    expect(answer.ok === false && answer.message).toContain(message);
    expect(refusals).toEqual([code]);
    expect(fleet.offers).toEqual([]);
    expect(await bus.kv.ota.get('rollout').then((e) => (e?.operation === 'PUT' ? e : null))).toBeNull();
  });

  it('a downgrade goes ahead with allow_downgrade; a second rollout waits for the first to end', async () => {
    fleet.add('d1');
    const engine = await leadEngine();
    expect(await ask(engine, { ...start(['d1']), version: '1.3.0', allow_downgrade: true })).toMatchObject({
      ok: true,
    });
    expect(fleet.offered()).toEqual(['d1']);
    expect(await ask(engine, start(['d1']))).toMatchObject({ ok: false, code: 'rollout_active' });
  });
});

describe('a new leader', () => {
  it('resumes from the stored rollout: a device back on the version is confirmed, not offered again', async () => {
    for (const id of ['d1', 'd2', 'd3']) fleet.add(id);
    const first = await leadEngine('node-a');
    await ask(first, start(['d1', 'd2', 'd3'], { canary: 1, batch: 2 }));
    const offer = fleet.offerOf('d1');
    await handles.splice(0)[0]!.stop(); // the leader goes; its engine stops with it
    // meanwhile d1 rebooted into 1.5.0 and came back, with nobody listening
    fleet.state.get('d1')!.fw = '1.5.0';

    const second = await leadEngine('node-b');
    await settle(second);
    expect(fleet.offered()).toEqual(['d1', 'd2', 'd3']); // d1 once only
    expect(fleet.confirms).toEqual([`d1/${offer}`]);
    fleet.update('d2');
    fleet.update('d3');
    await settle(second);
    expect((await stored()).status).toBe('completed');
  });

  it('offers again to a device whose offer died with the old leader', async () => {
    fleet.add('d1');
    const first = await leadEngine('node-a');
    await ask(first, start(['d1'], { canary: 1 }));
    await handles.splice(0)[0]!.stop();
    const second = await leadEngine('node-b');
    await settle(second);
    expect(fleet.offered()).toEqual(['d1', 'd1']);
    fleet.update('d1');
    await settle(second);
    expect((await stored()).status).toBe('completed');
  });
});

describe('a new leader, devices whose report went to the old one', () => {
  /** d1 offered by node-a, which stops: `booted` also when d1 rebooted into 1.5.0 and node-a confirmed it */
  async function takeOver(state: 'offered' | 'booted', devices = ['d1']) {
    for (const id of devices) fleet.add(id);
    const first = await leadEngine('node-a');
    await ask(first, start(devices, { canary: 1, batch: 2 }));
    const offer = fleet.offerOf('d1');
    if (state === 'booted') {
      fleet.state.get('d1')!.fw = '1.5.0';
      fleet.emit({ device: 'd1', offer, state: 'booted', version: '1.5.0' });
      await first.idle();
      expect(fleet.confirms).toEqual([`d1/${offer}`]);
    }
    expect((await stored()).devices.d1!.state).toBe(state);
    await handles.splice(0)[0]!.stop(); // its `confirmed` (or progress) report is lost with it
    return offer;
  }

  it('a device booted at takeover and offline is confirmed once back on the version, and the rollout goes on', async () => {
    const offer = await takeOver('booted', ['d1', 'd2', 'd3']);
    fleet.state.get('d1')!.online = false; // the gateway restarted; d1 reconnects later
    const second = await leadEngine('node-b');
    for (let i = 0; i < 3; i++) {
      clock += 10_000;
      await settle(second);
    }
    expect((await stored()).devices.d1!.state).toBe('booted');
    expect(fleet.offered()).toEqual(['d1']);

    fleet.state.get('d1')!.online = true; // back, on 1.5.0, and never reporting `confirmed` again
    clock += 10_000;
    await settle(second);
    expect((await stored()).devices.d1!.state).toBe('confirmed');
    expect(fleet.confirms.at(-1)).toBe(`d1/${offer}`); // confirmed again: the first may not have arrived
    expect(fleet.offered()).toEqual(['d1', 'd2', 'd3']); // once only, and the next batch goes
    fleet.update('d2');
    fleet.update('d3');
    await settle(second);
    expect((await stored()).status).toBe('completed');
    expect(fleet.rollbacks).toEqual([]);
  });

  it('a device offered at takeover and offline is offered again once back on the old version', async () => {
    const offer = await takeOver('offered');
    fleet.state.get('d1')!.online = false;
    const second = await leadEngine('node-b');
    clock += 10_000;
    await settle(second);
    expect((await stored()).devices.d1).toMatchObject({ state: 'pending', reason: 'd1 is not connected' });

    fleet.state.get('d1')!.online = true; // back on 1.4.0: the download died with node-a
    clock += 10_000;
    await settle(second);
    expect(fleet.offered()).toEqual(['d1', 'd1']);
    expect(fleet.offerOf('d1')).not.toBe(offer);
    expect((await stored()).devices.d1).toMatchObject({ state: 'offered', offer: fleet.offerOf('d1') });
    fleet.update('d1');
    await settle(second);
    expect((await stored()).status).toBe('completed');
  });

  it.each([
    ['booted, back on 1.5.0', 'booted'],
    ['offered, offline', 'offered'],
  ] as const)(
    'a device %s at takeover is looked at again after the save of its new state failed',
    async (_, state) => {
      const offer = await takeOver(state);
      if (state === 'offered') fleet.state.get('d1')!.online = false;
      let flaky!: FlakyStore;
      // the first save of node-b (its first tick, in start()) fails
      const second = await leadEngine('node-b', (store) => {
        flaky = new FlakyStore(store);
        flaky.failSaves = 1;
        return flaky;
      });
      await second.idle();
      expect(flaky.failed).toBe(1);
      expect((await stored()).devices.d1!.state).toBe(state); // nothing stored of that tick

      clock += 10_000;
      await settle(second);
      if (state === 'booted') {
        expect((await stored()).devices.d1!.state).toBe('confirmed');
        expect(fleet.confirms.at(-1)).toBe(`d1/${offer}`);
        expect((await stored()).status).toBe('completed');
        return;
      }
      expect((await stored()).devices.d1).toMatchObject({ state: 'pending', reason: 'd1 is not connected' });
      fleet.state.get('d1')!.online = true;
      clock += 10_000;
      await settle(second);
      expect(fleet.offered()).toEqual(['d1', 'd1']);
      fleet.update('d1');
      await settle(second);
      expect((await stored()).status).toBe('completed');
    },
  );
});

describe('the relay between nodes', () => {
  it('reaches a device on another node, carries its refusals and progress back, and refuses bad requests', async () => {
    const here = new FakeFleet();
    const there = new FakeFleet();
    there.add('remote');
    const relayThere = new OtaRelay({ nc, nodeId: 'node-there', fleet: there, log });
    const relayHere = new OtaRelay({ nc, nodeId: 'node-here', fleet: here, log });
    relayThere.start();
    relayHere.start();
    try {
      const cluster = new ClusterOtaFleet({
        nc,
        local: here,
        otherNodes: () => ['node-gone', 'node-there'],
        timeoutMs: 500,
      });
      const seen: OtaProgress[] = [];
      const stop = cluster.onProgress((p) => seen.push(p));
      await nc.flush();
      const image = { sha256: sha(1), version: '1.5.0', size: 1000, signed: false };
      const offer = await cluster.offer('remote', image);
      expect(there.offers).toEqual([{ device: 'remote', offer, image }]);
      there.state.get('remote')!.fw = '1.5.0';
      await expect(cluster.offer('remote', image)).rejects.toMatchObject({ reason: 'already_installed' });
      await expect(cluster.offer('nowhere', image)).rejects.toMatchObject({ reason: 'offline' });
      there.emit({ device: 'remote', offer, state: 'booted', version: '1.5.0' });
      await cluster.confirm('remote', offer);
      expect(there.confirms).toEqual([`remote/${offer}`]);
      await nc.flush();
      await until(() => seen.length > 0 || undefined);
      expect(seen).toEqual([{ device: 'remote', offer, state: 'booted', version: '1.5.0' }]);
      stop();

      const garbage = await nc.request('sentinel.node.node-there.ota', '{"op":"format-disk"}');
      expect(garbage.json()).toMatchObject({ ok: false, reason: 'bad_request' });
      const notJson = await nc.request('sentinel.node.node-there.ota', 'hello');
      expect(notJson.json()).toMatchObject({ ok: false, reason: 'bad_request' });
      expect(there.offers).toHaveLength(1);
    } finally {
      relayThere.stop();
      relayHere.stop();
    }
  });
});
