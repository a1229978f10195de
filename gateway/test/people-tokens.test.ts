// API tokens in KV sentinel_tokens against a real nats-server: created on one
// instance (the CLI), validated from memory on another (a gateway node), revoked
// anywhere and refused everywhere at once with onRevoked firing.
import { jetstream } from '@nats-io/jetstream';
import type { KV, KvWatchEntry } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  API_TOKEN_PATTERN,
  InvalidNameError,
  InvalidRoleError,
  type RevokedEvent,
  TOKENS_BUCKET,
  TokenExistsError,
  TokenStore,
  UnknownTokenError,
} from '../src/people/index.js';
import { manualClock, type PeopleTestBed, peopleTestBed } from './people-support.js';

let bed: PeopleTestBed;
const clock = manualClock();
let cli: TokenStore;
let gateway: TokenStore;
let other: TokenStore;

async function instance(start: boolean): Promise<TokenStore> {
  const { nc } = await bed.node();
  const store = await TokenStore.open(jetstream(nc), {}, { clock: clock.now });
  if (start) await store.start();
  return store;
}

/**
 * The bucket behind a KV whose watch hands entries on only as far as the test lets it:
 * the watch of a busy node, lagging behind its own writes.
 */
function laggingWatch(kv: KV) {
  let allowed = Number.POSITIVE_INFINITY;
  let handed = 0;
  let handled = 0;
  let wake = () => {};
  const progressed = () => wake();
  const lagging = new Proxy(kv, {
    get(target, property) {
      if (property !== 'watch') {
        const value = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return async (...args: Parameters<KV['watch']>) => {
        const inner = await target.watch(...args);
        async function* gated(): AsyncGenerator<KvWatchEntry> {
          for await (const entry of inner) {
            while (handed >= allowed) await new Promise<void>((resolve) => (wake = resolve));
            handed++;
            yield entry;
            // the consumer asks for the next entry only once it has handled this one
            handled++;
            progressed();
          }
        }
        return Object.assign(gated(), { stop: () => inner.stop() });
      };
    },
  });
  return {
    kv: lagging,
    hold: () => {
      allowed = handed;
    },
    /** lets one more entry through; resolves once the store has handled it */
    async step(): Promise<void> {
      allowed = handed + 1;
      const target = handled + 1;
      progressed();
      while (handled < target) await new Promise<void>((resolve) => (wake = resolve));
    },
  };
}

function revoked(store: TokenStore, name: string): Promise<RevokedEvent> {
  return new Promise((resolve) => {
    const off = store.onRevoked((event) => {
      if (event.id !== name) return;
      off();
      resolve(event);
    });
  });
}

beforeAll(async () => {
  bed = await peopleTestBed();
  cli = await instance(false);
  gateway = await instance(true);
  other = await instance(true);
});
afterAll(async () => {
  gateway?.stop();
  other?.stop();
  await bed?.stop();
});

describe('API tokens', () => {
  it('creates a token shown once, stored only as its SHA-256, with a dated default name', async () => {
    const created = await cli.create('viewer');
    expect(created.token).toMatch(API_TOKEN_PATTERN);
    expect(created.token).toMatch(/^sen_[A-Za-z0-9_-]{43}$/);
    expect(created.name).toMatch(/^token-20250115-[0-9a-f]{4}$/);
    expect(created.role).toBe('viewer');
    const raw = (await cli.kv.get(created.name))?.string() ?? '';
    expect(raw).not.toContain(created.token);
    expect(raw).not.toContain(created.token.slice(4));
    expect((await cli.kv.status()).bucket).toBe(TOKENS_BUCKET);
    const listed = await cli.list();
    expect(listed.find((t) => t.name === created.name)).toEqual({
      name: created.name,
      role: 'viewer',
      created: clock.now(),
    });
    expect(JSON.stringify(listed)).not.toMatch(/sha256|sen_/);
  });

  it('validates on every node from memory and refuses it everywhere once revoked', async () => {
    const { token } = await cli.create('operator', 'prometheus');
    await vi.waitFor(() => expect(gateway.validate(token)).toEqual({ name: 'prometheus', role: 'operator' }));
    await vi.waitFor(() => expect(other.validate(token)).toBeDefined());
    const heardHere = revoked(gateway, 'prometheus');
    const heardThere = revoked(other, 'prometheus');
    expect(await other.revoke('prometheus')).toMatchObject({ name: 'prometheus', role: 'operator' });
    expect(other.validate(token)).toBeUndefined(); // at once on the revoking node
    expect(await heardHere).toEqual({ kind: 'token', id: 'prometheus' });
    expect(await heardThere).toEqual({ kind: 'token', id: 'prometheus' });
    expect(gateway.validate(token)).toBeUndefined();
    await expect(cli.revoke('prometheus')).rejects.toBeInstanceOf(UnknownTokenError);
  });

  it('records last_used at most once a minute, never reviving a revoked token', async () => {
    const { token, name } = await cli.create('viewer', 'script');
    const updates: (number | undefined)[] = [];
    const watch = await cli.kv.watch({ key: name, include: 'updates' as never });
    void (async () => {
      for await (const entry of watch)
        updates.push(entry.operation === 'PUT' ? entry.json<{ last_used?: number }>().last_used : -1);
    })();
    const usedAt = clock.now();
    await vi.waitFor(() => expect(gateway.validate(token)).toBeDefined());
    for (let i = 0; i < 10; i++) gateway.validate(token);
    await gateway.settled();
    clock.advance(30_000);
    gateway.validate(token); // within the minute: no write
    await gateway.settled();
    await cli.revoke(name);
    await vi.waitFor(() => expect(updates).toEqual([usedAt, -1]));
    // a node that has not heard of the revocation yet writes back with compare-and-set
    clock.advance(60_000);
    await gateway.settled();
    expect(await cli.kv.get(name).then((e) => e?.operation)).toBe('DEL');
    watch.stop();
    expect((await cli.list()).map((t) => t.name)).not.toContain(name);
  });

  it('works at once on the node that made it, and a revoke there holds, however far its watch lags', async () => {
    const { nc } = await bed.node();
    const watch = laggingWatch((await TokenStore.open(jetstream(nc))).kv);
    const store = new TokenStore(watch.kv, { clock: clock.now });
    await store.start();
    try {
      watch.hold();
      const created = await store.create('operator', 'deploy-bot');
      // the watch has not brought it back yet: a caller's first request with it still works
      expect(store.validate(created.token)).toEqual({ name: 'deploy-bot', role: 'operator' });
      await store.revoke('deploy-bot');
      expect(store.validate(created.token)).toBeUndefined();
      // the lagging watch now brings the token's put, then its delete: revoked all along
      await watch.step();
      expect(store.validate(created.token)).toBeUndefined();
      await watch.step();
      expect(store.validate(created.token)).toBeUndefined();
    } finally {
      store.stop();
    }
  });

  it('gives each bad input its own error', async () => {
    await cli.create('admin', 'taken');
    await expect(cli.create('admin', 'taken')).rejects.toBeInstanceOf(TokenExistsError);
    await expect(cli.create('root')).rejects.toBeInstanceOf(InvalidRoleError);
    for (const name of ['', 'Big', 'a b', 'x'.repeat(65), '.dot'])
      await expect(cli.create('viewer', name), name).rejects.toBeInstanceOf(InvalidNameError);
    await expect(cli.revoke('Bad Name')).rejects.toBeInstanceOf(InvalidNameError);
    await expect(cli.revoke('never-made')).rejects.toBeInstanceOf(UnknownTokenError);
    for (const token of [
      '',
      'sen_',
      `sen_${'A'.repeat(42)}`,
      `xen_${'A'.repeat(43)}`,
      `sen_${'A'.repeat(43)}`,
    ])
      expect(gateway.validate(token), token).toBeUndefined();
  });
});
