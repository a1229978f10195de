// The audit log in stream SENTINEL_AUDIT against a real nats-server: records
// with who, what, from where and the outcome, no secrets, queries by actor and
// target newest first with paging, and reading 10,000 records measured.
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AUDIT_STREAM,
  AuditLog,
  InvalidAuditRecordError,
  LastAdminError,
  type People,
  UserExistsError,
} from '../src/people/index.js';
import { manualClock, type PeopleTestBed, peopleTestBed } from './people-support.js';

let bed: PeopleTestBed;

beforeAll(async () => {
  bed = await peopleTestBed();
});
afterAll(async () => {
  await bed?.stop();
});

async function freshLog(clock = manualClock()) {
  const { nc } = await bed.node();
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(AUDIT_STREAM).catch(() => undefined);
  return { log: await AuditLog.open(jetstream(nc), jsm, { clock: clock.now }), jsm, clock };
}

describe('audit', () => {
  it('keeps records 90 days on sentinel.audit.<action>', async () => {
    const { log, jsm } = await freshLog();
    const { config } = await jsm.streams.info(AUDIT_STREAM);
    expect(config.subjects).toEqual(['sentinel.audit.>']);
    expect(config.max_age).toBe(nanos(90 * 24 * 3600_000));
    expect(config.max_bytes).toBeGreaterThan(0);
    await log.record({ actor: 'user:ann', action: 'command', target: 'e1', from: '10.0.0.2', outcome: 'ok' });
    const stored = await jsm.streams.getMessage(AUDIT_STREAM, { last_by_subj: 'sentinel.audit.command' });
    expect(stored?.json()).toMatchObject({
      actor: 'user:ann',
      action: 'command',
      target: 'e1',
      from: '10.0.0.2',
    });
  });

  it('filters by actor and target, newest first, with limit and before', async () => {
    const { log, clock } = await freshLog();
    const t0 = clock.now();
    for (let i = 0; i < 30; i++) {
      await log.record({
        actor: i % 3 === 0 ? 'user:ann' : 'token:grafana',
        action: 'command',
        target: i % 2 === 0 ? 'entity-even' : 'entity-odd',
        from: '10.0.0.2',
        outcome: i === 29 ? 'timeout' : 'ok',
        detail: { value: i },
      });
      clock.advance(1000);
    }
    const newest = await log.query({ limit: 3 });
    expect(newest.map((r) => r.detail?.value)).toEqual([29, 28, 27]);
    expect(newest[0]).toMatchObject({ ts: t0 + 29_000, outcome: 'timeout' });
    const ann = await log.query({ actor: 'user:ann' });
    expect(ann.map((r) => r.detail?.value)).toEqual([27, 24, 21, 18, 15, 12, 9, 6, 3, 0]);
    const annEven = await log.query({ actor: 'user:ann', target: 'entity-even' });
    expect(annEven.map((r) => r.detail?.value)).toEqual([24, 18, 12, 6, 0]);
    // paging: the next page starts before the last ts of this one
    const page1 = await log.query({ target: 'entity-odd', limit: 4 });
    const page2 = await log.query({ target: 'entity-odd', limit: 4, before: page1.at(-1)?.ts });
    expect([...page1, ...page2].map((r) => r.detail?.value)).toEqual([29, 27, 25, 23, 21, 19, 17, 15]);
    expect(await log.query({ actor: 'user:nobody' })).toEqual([]);
    expect(await log.query({ before: t0 })).toEqual([]);
  });

  it('never records a secret, and refuses a record that does not fit', async () => {
    const { log } = await freshLog();
    const stored = await log.record({
      actor: 'user:ann',
      action: 'user_add',
      target: 'bob',
      from: '10.0.0.2',
      outcome: 'ok',
      detail: {
        role: 'viewer',
        password: 'hunter22 hunter',
        nested: { token: 'sen_x', onboardingToken: 'y' },
      },
    });
    expect(stored.detail).toEqual({ role: 'viewer', nested: {} });
    expect(JSON.stringify(await log.query())).not.toMatch(/hunter|sen_x/);
    for (const bad of [
      { actor: 'bob', action: 'login', from: 'x', outcome: 'ok' },
      { actor: 'user:Bob Smith', action: 'login', from: 'x', outcome: 'ok' },
      { actor: 'cli', action: 'login', from: '', outcome: 'ok' },
      { actor: 'cli', action: 'login', from: 'cli', outcome: 'Not OK' },
    ])
      await expect(log.record(bad as never)).rejects.toBeInstanceOf(InvalidAuditRecordError);
  });

  it('records account and token changes with who, from where and the outcome', async () => {
    const { nc } = await bed.node();
    await (await jetstreamManager(nc)).streams.delete(AUDIT_STREAM).catch(() => undefined);
    const people: People = await bed.started();
    const by = { actor: 'user:root', from: '192.168.1.20' };
    await people.users.addWithPassword('root', 'admin', 'root password 1');
    await people.addUser('kid', 'viewer', by);
    await expect(people.addUser('kid', 'viewer', by)).rejects.toBeInstanceOf(UserExistsError);
    await expect(people.removeUser('root', by)).rejects.toBeInstanceOf(LastAdminError);
    const created = await people.createToken('viewer', undefined, by);
    await people.revokeToken(created.name, by);
    await people.login('root', 'root password 1', '192.168.1.20');
    await people.login('root', 'wrong password', '10.6.6.6').catch(() => undefined);
    const records = await people.audit.query();
    expect(records.map((r) => [r.action, r.actor, r.target, r.from, r.outcome])).toEqual([
      ['login_failed', 'system', 'root', '10.6.6.6', 'bad_credentials'],
      ['login', 'user:root', 'root', '192.168.1.20', 'ok'],
      ['token_revoke', 'user:root', created.name, '192.168.1.20', 'ok'],
      ['token_create', 'user:root', created.name, '192.168.1.20', 'ok'],
      ['user_remove', 'user:root', 'root', '192.168.1.20', 'conflict'],
      ['user_add', 'user:root', 'kid', '192.168.1.20', 'conflict'],
      ['user_add', 'user:root', 'kid', '192.168.1.20', 'ok'],
    ]);
    expect(JSON.stringify(records)).not.toContain(created.token);
    expect(await people.audit.query({ target: 'kid' })).toHaveLength(2);
  });

  it('reads 10,000 records quickly, newest first', async () => {
    const { log, clock, jsm } = await freshLog();
    const { nc } = await bed.node();
    const js = jetstream(nc);
    const t0 = clock.now();
    // pipelined publishing straight to the stream: the setup, not what is measured
    for (let batch = 0; batch < 20; batch++) {
      await Promise.all(
        Array.from({ length: 500 }, (_, i) => {
          const n = batch * 500 + i;
          const record = {
            ts: t0 + n * 1000,
            actor: n % 100 === 0 ? 'user:rare' : 'token:grafana',
            action: 'command',
            target: `entity-${n % 50}`,
            from: '10.0.0.2',
            outcome: 'ok',
            detail: { n },
          };
          return js.publish('sentinel.audit.command', JSON.stringify(record));
        }),
      );
    }
    expect((await jsm.streams.info(AUDIT_STREAM)).state.messages).toBe(10_000);

    const timed = async <T>(work: () => Promise<T>) => {
      const started = performance.now();
      const result = await work();
      return { result, ms: performance.now() - started };
    };
    const newest = await timed(() => log.query({ limit: 50 }));
    const rare = await timed(() => log.query({ actor: 'user:rare', limit: 1000 }));
    const none = await timed(() => log.query({ actor: 'user:nobody' }));
    const middle = await timed(() => log.query({ target: 'entity-7', before: t0 + 5000 * 1000, limit: 20 }));
    console.info(
      `audit query over 10,000 records: newest 50 ${newest.ms.toFixed(0)} ms, ` +
        `100 rare of 10,000 ${rare.ms.toFixed(0)} ms, no match (full scan) ${none.ms.toFixed(0)} ms, ` +
        `20 before the middle ${middle.ms.toFixed(0)} ms`,
    );
    expect(newest.result.map((r) => r.detail?.n)).toEqual(Array.from({ length: 50 }, (_, i) => 9999 - i));
    expect(rare.result).toHaveLength(100);
    expect(rare.result[0]?.detail?.n).toBe(9900);
    expect(none.result).toEqual([]);
    expect(middle.result.map((r) => r.detail?.n)).toEqual(
      Array.from({ length: 20 }, (_, i) => 4957 - 50 * i),
    );
    // generous bounds for a shared machine; the numbers above are what to look at
    expect(newest.ms).toBeLessThan(500);
    expect(none.ms).toBeLessThan(5000);
  });
});
