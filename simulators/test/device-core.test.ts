// PicketDevice's own logic (seq, buffering, backoff, stop) with an in-memory
// transport, a manual clock and seeded randomness: exact and instant.
import { describe, expect, it } from 'vitest';
import {
  type ManualClock,
  manualClock,
  PicketDevice,
  type PicketDeviceEvents,
  type PicketDeviceOptions,
  seededRandom,
  waitForEvent,
} from '../src/index.js';
import { MemoryTransport } from './support/memory-transport.js';

function setUp(options: Partial<PicketDeviceOptions> = {}, transport = new MemoryTransport()) {
  const clock = manualClock();
  const device = new PicketDevice({
    id: 'core',
    token: 't',
    intervalMs: 1000,
    backoff: { initialMs: 250, maxMs: 30_000 },
    clock,
    random: seededRandom(7),
    transport,
    ...options,
  });
  const events: Array<
    { [K in keyof PicketDeviceEvents]: [K, ...PicketDeviceEvents[K]] }[keyof PicketDeviceEvents]
  > = [];
  for (const name of ['connected', 'disconnected', 'retrying', 'problem', 'acked'] as const) {
    device.on(name, (...args: unknown[]) => events.push([name, ...args] as never));
  }
  return { clock, device, transport, events };
}

/** lets the device's connect loop run its pending promise continuations */
const settle = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

/** moves the clock in steps, letting the device react between them */
async function pump(clock: ManualClock, stepMs: number, steps: number): Promise<void> {
  for (let i = 0; i < steps; i++) {
    clock.advance(stepMs);
    await settle();
  }
}

describe('PicketDevice (in memory)', () => {
  it('backs off exponentially with jitter while the gateway is unreachable', async () => {
    const transport = new MemoryTransport();
    for (let i = 0; i < 9; i++) transport.refusals.push({ code: 'unreachable', message: 'ECONNREFUSED' });
    const { clock, device } = setUp({}, transport);
    const delays: number[] = [];
    device.on('retrying', ({ delayMs }) => delays.push(delayMs));
    device.start();
    for (let i = 0; i < 9; i++) {
      await settle();
      expect(transport.attempts).toBe(i + 1);
      clock.advance(delays.at(-1)! - 1);
      await settle();
      expect(transport.attempts).toBe(i + 1); // not a millisecond early
      clock.advance(1);
    }
    await waitForEvent(device, 'connected');
    const ceilings = [250, 500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000];
    expect(delays).toHaveLength(ceilings.length);
    delays.forEach((delay, i) => {
      expect(delay).toBeGreaterThanOrEqual(ceilings[i]! / 2);
      expect(delay).toBeLessThanOrEqual(ceilings[i]!);
    });
    // jitter: not simply the halves
    expect(delays.some((delay, i) => delay !== ceilings[i]! / 2)).toBe(true);
    await device.stop();
  });

  it('starts again from the shortest delay after a connection that held', async () => {
    const { clock, device, transport, events } = setUp({ stableAfterMs: 5000 });
    device.start();
    await waitForEvent(device, 'connected');
    transport.refusals.push(
      { code: 'unreachable', message: 'down' },
      { code: 'unreachable', message: 'down' },
    );
    clock.advance(1000);
    const back = waitForEvent(device, 'connected');
    transport.drop(); // a brief connection: the backoff keeps growing
    await settle();
    await pump(clock, 1000, 3);
    await back;
    clock.advance(6000);
    transport.drop(); // it held for 6 s
    await settle();
    const retries = events.flatMap((e) => (e[0] === 'retrying' ? [e[1]] : []));
    expect(retries.map((r) => r.attempt)).toEqual([1, 2, 3, 1]);
    expect(retries.at(-1)!.delayMs).toBeLessThanOrEqual(250);
    await device.stop();
  });

  it('numbers states 0, 1, 2, … across reconnects and never reuses a seq', async () => {
    const { clock, device, transport } = setUp({ qos: 1 });
    device.start();
    await waitForEvent(device, 'connected');
    clock.advance(2000);
    for (const s of transport.states()) transport.ack(s.seq);
    transport.drop();
    await settle();
    clock.advance(5000);
    await settle();
    clock.advance(1000);
    const seqs = transport.states().map((s) => s.seq);
    expect(seqs).toEqual([...seqs.keys()]);
    expect(seqs.length).toBeGreaterThan(5);
    await device.stop();
  });

  it('with QoS 1 keeps measuring while offline and delivers those readings after reconnecting', async () => {
    // random() = 0: every retry waits exactly half the ceiling, 5 s here
    const { clock, device, transport } = setUp({
      qos: 1,
      random: () => 0,
      backoff: { initialMs: 10_000, maxMs: 10_000 },
    });
    device.start();
    await waitForEvent(device, 'connected');
    transport.ack(0);
    transport.drop();
    await settle();
    clock.advance(3000); // three readings while offline
    expect(device.stats).toMatchObject({ sent: 1, unacked: 3 });
    const back = waitForEvent(device, 'connected');
    clock.advance(2000); // the retry falls due at 5 s, as the fifth reading is taken
    await back;
    const second = transport.sent.items.filter((s) => s.link === 2);
    expect(second.map((s) => (s.kind === 'state' ? s.state.seq : s.kind))).toEqual([
      'hello',
      1,
      2,
      3,
      4,
      5,
      6,
    ]);
    // readings taken offline keep the time they were taken
    const byLink = second.flatMap((s) => (s.kind === 'state' ? [s.state.ts ?? 0] : []));
    expect(byLink).toEqual([...byLink].sort((a, b) => a - b));
    expect(byLink[0]).toBe(clock.now() - 4000);
    await device.stop();
  });

  it('with QoS 0 takes no readings while offline and keeps nothing for resending', async () => {
    const transport = new MemoryTransport(false);
    const { clock, device } = setUp({ qos: 0, backoff: { initialMs: 10_000, maxMs: 10_000 } }, transport);
    device.start();
    await waitForEvent(device, 'connected');
    transport.drop();
    await settle();
    clock.advance(9000);
    expect(device.stats.unacked).toBe(0);
    clock.advance(10_000);
    await waitForEvent(device, 'connected');
    expect(transport.states().map((s) => s.seq)).toEqual([0, 1]);
    await device.stop();
  });

  it('answers commands that arrive on the link and reports each one', async () => {
    const { device, transport } = setUp({ intervalMs: 60_000 });
    device.start();
    await waitForEvent(device, 'connected');
    const handled = waitForEvent(device, 'command');
    transport.command({ cid: 'a', key: 'relay', value: true });
    const [{ result }] = await handled;
    expect(result).toEqual({ cid: 'a', ok: true });
    expect(device.values.relay).toBe(true);
    expect(transport.sent.items.map((s) => s.kind)).toEqual(['hello', 'state', 'result', 'state']);
    await device.stop();
  });

  it('stop() cancels every timer, also while waiting to retry', async () => {
    const transport = new MemoryTransport();
    transport.refusals.push({ code: 'refused', message: 'bad token' });
    const { clock, device, events } = setUp({}, transport);
    device.start();
    await waitForEvent(device, 'retrying');
    expect(events[0]).toEqual(['problem', { code: 'refused', message: 'bad token' }]);
    await device.stop();
    expect(clock.pending).toBe(0);
    expect(device.status).toBe('idle');
    // and it can start again, carrying on with its seq
    device.start();
    await waitForEvent(device, 'connected');
    await device.stop();
    expect(clock.pending).toBe(0);
  });

  it('rejects invalid options up front', () => {
    expect(() => setUp({ id: 'Bad Id' })).toThrow(/device id "Bad Id"/);
    expect(() => setUp({ token: '' })).toThrow(/token/);
    expect(() => setUp({ intervalMs: 0 })).toThrow(/intervalMs/);
    expect(() => setUp({ transport: undefined, gateway: 'http://example.invalid' })).toThrow(/mqtt:\/\//);
    expect(() => setUp({ transport: undefined })).toThrow(/say where the gateway is/);
  });
});
