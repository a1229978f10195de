// Sessions in KV sentinel_sessions against a real nats-server, two store
// instances as two gateway nodes: idle and absolute expiry (a hand-moved clock),
// revocation seen by the other node at once with onRevoked firing, last_seen
// written back at most once a minute.
import { jetstream } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RevokedEvent, SESSIONS_BUCKET, SessionStore } from '../src/people/index.js';
import { manualClock, type PeopleTestBed, peopleTestBed } from './people-support.js';

const DAY = 24 * 3600_000;
let bed: PeopleTestBed;
const clock = manualClock();
let a: SessionStore;
let b: SessionStore;

/** Resolves with the next onRevoked event of `store` matching `id`. */
function revoked(store: SessionStore, id: string): Promise<RevokedEvent> {
  return new Promise((resolve) => {
    const off = store.onRevoked((event) => {
      if (event.id !== id) return;
      off();
      resolve(event);
    });
  });
}

async function node(): Promise<SessionStore> {
  const { nc } = await bed.node();
  const store = await SessionStore.open(jetstream(nc), {}, { clock: clock.now });
  await store.start();
  return store;
}

beforeAll(async () => {
  bed = await peopleTestBed();
  a = await node();
  b = await node();
});
afterAll(async () => {
  a?.stop();
  b?.stop();
  await bed?.stop();
});

describe('sessions', () => {
  it('keys a session by the SHA-256 of its token, which is never stored', async () => {
    const { token, session } = await a.create('alice');
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(session.id).toBe(SessionStore.idOf(token));
    expect(session).toMatchObject({ user: 'alice', expires: clock.now() + 7 * DAY });
    const raw = await a.kv.get(session.id);
    expect(raw?.string()).not.toContain(token);
    expect((await a.kv.status()).bucket).toBe(SESSIONS_BUCKET);
    // the other node knows it (from its watch, or KV when the watch is a moment behind)
    expect(await b.validate(token)).toMatchObject({ id: session.id, user: 'alice' });
  });

  it('ends a session revoked on one node on the other at once, firing onRevoked there', async () => {
    const { token, session } = await a.create('alice');
    expect(await b.validate(token)).toBeDefined();
    const heard = revoked(b, session.id);
    expect(await a.revoke(session.id)).toBe(true);
    // refused on the revoking node from the moment revoke returned
    expect(await a.validate(token)).toBeUndefined();
    expect(await heard).toEqual({ kind: 'session', id: session.id, user: 'alice' });
    expect(await b.validate(token)).toBeUndefined();
    expect(await a.revoke(session.id)).toBe(false);
  });

  it('expires after 7 idle days, and the expiry is heard as a revocation', async () => {
    const { token, session } = await a.create('bob');
    clock.advance(7 * DAY - 1);
    expect(await b.validate(token)).toBeDefined();
    await b.settled();
    clock.advance(7 * DAY - 1); // used a moment before the idle limit: still alive
    expect(await a.validate(token)).toBeDefined();
    await a.settled();
    const heard = revoked(a, session.id);
    clock.advance(7 * DAY);
    expect(await b.validate(token)).toBeUndefined();
    expect(await heard).toMatchObject({ kind: 'session', user: 'bob' });
  });

  it('expires 30 days after log-in however often it is used', async () => {
    const { token } = await a.create('carol');
    for (let day = 0; day < 29; day++) {
      clock.advance(DAY);
      expect(await a.validate(token), `day ${day + 1}`).toBeDefined();
      await a.settled();
    }
    clock.advance(DAY);
    expect(await a.validate(token)).toBeUndefined();
  });

  it('writes last_seen back at most once a minute', async () => {
    const { token, session } = await a.create('dave');
    const writes: number[] = [];
    const watch = await a.kv.watch({ key: session.id, include: 'updates' as never });
    const seen = (async () => {
      for await (const entry of watch) {
        writes.push(entry.revision);
        if (writes.length === 1) return;
      }
    })();
    for (let i = 0; i < 20; i++) {
      clock.advance(2000); // 40 s of requests
      await a.validate(token);
    }
    const before = (await a.kv.get(session.id))?.revision;
    clock.advance(20_000);
    const touched = await a.validate(token);
    await seen;
    watch.stop();
    expect(writes).toHaveLength(1);
    expect((await a.kv.get(session.id))?.revision).toBeGreaterThan(before ?? 0);
    expect(touched?.last_seen).toBe(clock.now());
  });

  it('ends every session of a user (removed, or a new role) and only theirs', async () => {
    const first = await a.create('erin');
    const second = await b.create('erin');
    const other = await a.create('frank');
    const heard = [revoked(a, first.session.id), revoked(a, second.session.id)];
    expect(await b.revokeUser('erin')).toBe(2);
    await Promise.all(heard);
    expect(await a.validate(first.token)).toBeUndefined();
    expect(await a.validate(second.token)).toBeUndefined();
    expect(await a.validate(other.token)).toMatchObject({ user: 'frank' });
  });

  it('refuses tokens that are malformed or unknown', async () => {
    for (const token of ['', 'x', 'A'.repeat(42), 'A'.repeat(44), '../../etc/passwd', 'A'.repeat(43)])
      expect(await a.validate(token), token).toBeUndefined();
    expect(await a.revoke('not-an-id')).toBe(false);
  });
});
