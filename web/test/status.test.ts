import { describe, expect, it } from 'vitest';
import { DEFAULT_STALE_MS, MIN_STALE_MS, shown, staleAfter } from '../src/status.js';
import { apply, initialState } from '../src/store.js';
import type { EntityWithState } from '../src/types.js';

const entity = (id: string, platform: string, value: EntityWithState['state']): EntityWithState => ({
  id,
  name: id,
  platform,
  device_id: 'd',
  bindings: [],
  state: value,
});

const now = 10_000_000;
const s = apply(initialState, {
  type: 'snapshot',
  devices: [{ id: 'd', protocol: 'picket', name: 'D', online: true, last_seen: now }],
  entities: [
    entity('fresh', 'sensor', { entity_id: 'fresh', value: 20, ts: now - 90_000 }),
    entity('old', 'sensor', { entity_id: 'old', value: 20, ts: now - DEFAULT_STALE_MS - 1 }),
    entity('switch-unknown', 'switch', null),
    entity('switch-null', 'switch', { entity_id: 'switch-null', value: null, ts: now }),
    entity('switch-old', 'switch', { entity_id: 'switch-old', value: false, ts: now - 86_400_000 }),
  ],
});

describe('what an entity shows', () => {
  it('a switch without a known state is unknown, never off', () => {
    expect(shown(s, 'switch-unknown', now)).toEqual({ kind: 'unknown' });
    expect(shown(s, 'switch-null', now)).toEqual({ kind: 'unknown' });
  });

  it('marks a measurement stale after 15 min without a learnt interval', () => {
    expect(shown(s, 'fresh', now)).toMatchObject({ kind: 'value', value: 20, stale: false });
    expect(shown(s, 'old', now)).toMatchObject({ kind: 'value', stale: true });
  });

  it('does not age a switch, which only reports changes', () => {
    expect(shown(s, 'switch-old', now)).toMatchObject({ kind: 'value', value: false, stale: false });
  });

  it('uses three usual intervals once it knows them, never under a minute', () => {
    expect(staleAfter(undefined)).toBe(DEFAULT_STALE_MS);
    expect(staleAfter(60_000)).toBe(180_000);
    expect(staleAfter(1000)).toBe(MIN_STALE_MS);
    const learnt = { ...s, intervals: { fresh: 20_000 } };
    expect(shown(learnt, 'fresh', now)).toMatchObject({ stale: true });
  });

  it('is unavailable when the feed says so, or its device is offline', () => {
    const told = apply(s, { type: 'availability', entity_id: 'fresh', available: false, ts: now });
    expect(shown(told, 'fresh', now)).toEqual({ kind: 'unavailable' });
    const offline = apply(s, {
      type: 'device',
      device: { id: 'd', protocol: 'picket', name: 'D', online: false, last_seen: now },
    });
    expect(shown(offline, 'switch-old', now)).toEqual({ kind: 'unavailable' });
  });
});
