// A fleet of simulated pickets against a real broker: everyone connects with
// their own credentials, and a stop leaves nobody connected and no will behind.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PicketFleet, picketFleetIds, waitForEvent } from '../src/index.js';
import { startTestBroker, type TestBroker } from './support/mqtt-broker.js';

const ids = picketFleetIds('sim', 5);
const TOKENS = new Map(ids.map((id) => [id, `token-of-${id}`]));

describe('PicketFleet', () => {
  let broker: TestBroker;
  let fleet: PicketFleet | undefined;

  beforeEach(async () => {
    broker = await startTestBroker(TOKENS);
  });
  afterEach(async () => {
    await fleet?.stop();
    fleet = undefined;
    await broker.close();
  });

  it('names devices <prefix>-1 … <prefix>-N', () => {
    expect(picketFleetIds('sim', 3)).toEqual(['sim-1', 'sim-2', 'sim-3']);
    expect(picketFleetIds('sim', 0)).toEqual([]);
  });

  it('starts every device with its own token, sums their work, and stops them all cleanly', async () => {
    fleet = new PicketFleet({
      gateway: broker.url,
      devices: ids.map((id) => ({ id, token: TOKENS.get(id)! })),
      intervalMs: 30,
      rampUpMs: 50,
    });
    const f = fleet;
    const allConnected = waitForEvent(f, 'change', { filter: () => f.summary().connected === ids.length });
    f.start();
    await allConnected;
    for (const id of ids) {
      await broker.ready.first((c) => c === id);
      expect(broker.connects.items.find((c) => c.clientId === id)).toMatchObject({
        username: id,
        password: `token-of-${id}`,
      });
    }
    await waitForEvent(f, 'change', { filter: () => f.summary().acked >= 2 * ids.length });
    const summary = f.summary();
    expect(summary).toMatchObject({ devices: 5, connected: 5, commands: 0, dropped: 0 });
    expect(summary.sent).toBeGreaterThanOrEqual(summary.acked);

    await f.stop();
    await Promise.all(ids.map((id) => broker.gone.first((g) => g === id)));
    expect(f.summary().connected).toBe(0);
    expect(f.devices.every((d) => d.status === 'idle')).toBe(true);
    // every device said offline itself; none needed its will
    const offline = broker.publishes.filter((p) => p.topic.endsWith('/status') && p.payload === 'offline');
    expect(offline.map((p) => p.clientId).sort()).toEqual([...ids].sort());
  });

  it('passes on each device problem with the device id', async () => {
    fleet = new PicketFleet({
      gateway: broker.url,
      devices: [{ id: 'sim-1', token: 'wrong' }],
      intervalMs: 1000,
    });
    const problem = waitForEvent(fleet, 'problem');
    fleet.start();
    const [reported] = await problem;
    expect(reported).toMatchObject({ id: 'sim-1', problem: { code: 'refused' } });
  });

  it('refuses a device listed twice', () => {
    expect(
      () =>
        new PicketFleet({
          gateway: broker.url,
          devices: [
            { id: 'sim-1', token: 'a' },
            { id: 'sim-1', token: 'b' },
          ],
        }),
    ).toThrow(/sim-1 appears twice/);
  });
});
