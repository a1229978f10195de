// Owner selection across proxies, with time passed in by hand: hysteresis, hand-over
// after the owner's silence judged by the device's own learned interval, and proxies
// that said they are gone.

import { WIRE_VERSION } from '@sentinel/protocol';
import { describe, expect, it } from 'vitest';
import { OwnerTable } from '../src/ble/owners.js';
import { ProxyDirectory } from '../src/ble/proxies.js';

/** Feeds advertisements every `every` ms from the given proxies at fixed RSSI until `until`. */
function feed(
  table: OwnerTable,
  mac: string,
  from: Record<string, number>,
  start: number,
  until: number,
  every: number,
) {
  const verdicts: { t: number; proxy: string; owner: boolean; why?: string }[] = [];
  for (let t = start; t < until; t += every) {
    for (const [proxy, rssi] of Object.entries(from)) {
      const v = table.observe(mac, proxy, rssi, t, t);
      verdicts.push({ t, proxy, owner: v.owner, ...(v.owner && v.handover ? { why: v.handover.why } : {}) });
    }
  }
  return verdicts;
}

describe('BLE owner table', () => {
  it('keeps the first proxy while another is not clearly louder, and hands over once it is', () => {
    const table = new OwnerTable({ hysteresisDb: 6 });
    feed(table, 'm', { p1: -70, p2: -66 }, 0, 2000, 100);
    expect(table.owner('m')).toBe('p1'); // 4 dB louder is not enough
    const later = feed(table, 'm', { p1: -70, p2: -55 }, 2000, 4000, 100);
    expect(table.owner('m')).toBe('p2');
    expect(later.filter((v) => v.why === 'louder')).toHaveLength(1);
    // once handed over, the old owner's copies are no longer the ones used
    const at = later.find((v) => v.why === 'louder')!.t;
    expect(later.filter((v) => v.t > at && v.proxy === 'p1' && v.owner)).toEqual([]);
  });

  it('does not flap between proxies of similar strength', () => {
    const table = new OwnerTable();
    let rssiFlip = 0;
    for (let t = 0; t < 10_000; t += 100) {
      rssiFlip = rssiFlip === 0 ? 3 : 0;
      table.observe('m', 'p1', -60 - rssiFlip, t, t);
      table.observe('m', 'p2', -63 + rssiFlip, t, t);
    }
    expect(table.owner('m')).toBe('p1');
  });

  it('judges a silent owner by the device’s own interval: a fast sensor is handed over soon, a slow one later', () => {
    const fast = new OwnerTable({ minStaleMs: 500, staleIntervals: 3 });
    feed(fast, 'm', { p1: -50, p2: -80 }, 0, 2000, 100); // p1 owns, interval 100 ms
    // p1 goes silent at 2000; p2 is heard at 2200 (not stale yet: 500 ms minimum) and 2600
    expect(fast.observe('m', 'p2', -80, 2200, 2200).owner).toBe(false);
    expect(fast.observe('m', 'p2', -80, 2600, 2600)).toEqual({
      owner: true,
      handover: { from: 'p1', why: 'stale' },
    });

    const slow = new OwnerTable({ minStaleMs: 500, staleIntervals: 3 });
    feed(slow, 'm', { p1: -50, p2: -80 }, 0, 50_000, 5000); // interval 5 s
    // the last word from p1 was at 45 s; 3 intervals are 15 s
    expect(slow.observe('m', 'p2', -80, 51_000, 51_000).owner).toBe(false);
    expect(slow.observe('m', 'p2', -80, 59_000, 59_000).owner).toBe(false);
    expect(slow.observe('m', 'p2', -80, 61_000, 61_000)).toMatchObject({
      owner: true,
      handover: { why: 'stale' },
    });
  });

  it('hands over at once when the owner is known to be gone', () => {
    const alive = new Set(['p1', 'p2']);
    const table = new OwnerTable({}, (p) => alive.has(p));
    feed(table, 'm', { p1: -50, p2: -80 }, 0, 1000, 100);
    alive.delete('p1');
    expect(table.observe('m', 'p2', -80, 1000, 1000)).toEqual({
      owner: true,
      handover: { from: 'p1', why: 'gone' },
    });
  });

  it('routes GATT to the loudest proxies first and forgets old hearings', () => {
    const table = new OwnerTable({ forgetMs: 60_000 });
    feed(table, 'm', { p1: -70, p2: -50, p3: -60 }, 0, 1000, 100);
    expect(table.hearings('m', 1000).map((h) => h.proxy)).toEqual(['p2', 'p3', 'p1']);
    table.sweep(120_000);
    expect(table.hearings('m', 120_000)).toEqual([]);
    expect(table.owner('m')).toBeUndefined();
  });
});

describe('BLE proxy directory', () => {
  const status = (proxy: string) => ({
    v: WIRE_VERSION,
    proxy,
    version: '0.1.0',
    ts: 0,
    interval_ms: 1000,
    adapter: 'poweredOn',
    scanning: 'active',
    gatt: { used: 0, total: 3 },
    buffer: { depth: 0, capacity: 100 },
    dropped: { buffer: 0 },
    advertisements: 0,
    restarts: 0,
    rss_bytes: 0,
    uptime_s: 0,
  });

  it('forgets proxies silent for longer than it is told, and keeps the others', () => {
    const proxies = new ProxyDirectory();
    expect(proxies.update('p1', status('p1'), 0)).toBe(true);
    expect(proxies.update('p2', status('p2'), 50_000)).toBe(true);
    expect(proxies.update('p3', status('other'), 0)).toBe(false); // names another proxy
    proxies.sweep(60_000, 30_000);
    expect(proxies.get('p1')).toBeUndefined();
    expect(proxies.get('p2')?.status.proxy).toBe('p2');
  });
});
