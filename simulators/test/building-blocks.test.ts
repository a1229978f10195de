// The small pieces under the device: backoff, the unacked buffer, gateway URLs.
import { describe, expect, it } from 'vitest';
import {
  Backoff,
  resolveGatewayEndpoint,
  SimulatorOptionsError,
  seededRandom,
  UnackedStates,
} from '../src/index.js';

describe('Backoff', () => {
  it('doubles up to the cap, each delay between half and all of its ceiling', () => {
    const backoff = new Backoff({ initialMs: 250, maxMs: 30_000 }, seededRandom(3));
    const delays = Array.from({ length: 10 }, () => backoff.next());
    const ceilings = [250, 500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000];
    delays.forEach((delay, i) => {
      expect(delay).toBeGreaterThanOrEqual(ceilings[i]! / 2);
      expect(delay).toBeLessThanOrEqual(ceilings[i]!);
    });
    backoff.reset();
    expect(backoff.next()).toBeLessThanOrEqual(250);
  });

  it('is exactly reproducible from its random source', () => {
    const a = new Backoff({}, () => 0);
    const b = new Backoff({}, () => 0.5);
    expect([a.next(), a.next(), a.next()]).toEqual([125, 250, 500]);
    expect([b.next(), b.next()]).toEqual([188, 375]);
  });

  it('refuses nonsense settings', () => {
    expect(() => new Backoff({ initialMs: 0 })).toThrow(RangeError);
    expect(() => new Backoff({ initialMs: 1000, maxMs: 10 })).toThrow(RangeError);
  });
});

describe('UnackedStates', () => {
  const state = (seq: number) => ({ seq, values: { t: seq } });

  it('keeps states in seq order until acked', () => {
    const buffer = new UnackedStates(10);
    for (const seq of [0, 1, 2]) buffer.add(state(seq));
    expect(buffer.ack(1)).toBe(true);
    expect(buffer.ack(1)).toBe(false);
    expect(buffer.pending().map((s) => s.seq)).toEqual([0, 2]);
  });

  it('drops the oldest when full and counts it', () => {
    const buffer = new UnackedStates(2);
    expect(buffer.add(state(0))).toBeUndefined();
    buffer.add(state(1));
    expect(buffer.add(state(2))).toEqual(state(0));
    expect(buffer.pending().map((s) => s.seq)).toEqual([1, 2]);
    expect(buffer.dropped).toBe(1);
  });
});

describe('resolveGatewayEndpoint', () => {
  it.each([
    ['mqtt://127.0.0.1:1883', 'mqtt', 'mqtt://127.0.0.1:1883'],
    ['mqtts://gw.local:8883', 'mqtt', 'mqtts://gw.local:8883'],
    ['ws://127.0.0.1:8080/mqtt', 'mqtt', 'ws://127.0.0.1:8080/mqtt'],
    ['ws://127.0.0.1:8080/picket', 'picket-ws', 'ws://127.0.0.1:8080/picket'],
    ['ws://127.0.0.1:8080/picket/', 'picket-ws', 'ws://127.0.0.1:8080/picket'],
    ['ws://127.0.0.1:8080', 'picket-ws', 'ws://127.0.0.1:8080/picket'],
  ])('%s is %s', (url, protocol, normalised) => {
    expect(resolveGatewayEndpoint(url)).toEqual({ protocol, url: normalised });
  });

  it.each(['http://127.0.0.1:8080', 'ws://127.0.0.1:8080/other', 'not a url'])('refuses %s', (url) => {
    expect(() => resolveGatewayEndpoint(url)).toThrow(SimulatorOptionsError);
  });
});
