// `sentinel user …` and `sentinel token …` through the real process against a
// real nats-server (CONTRACT.md §6): onboarding links, passwords from stdin, no
// secrets in listings, the last admin kept, exit codes 0/1/2, audit actor "cli".
import {
  type GatewayStore,
  openGatewayStore,
  openPeopleStores,
  type PeopleStores,
} from '@sentinel/gateway/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../test/support/cli.js';
import { startNats, type TestNats } from '../../../test/support/nats.js';

let nats: TestNats;
let store: GatewayStore;
let stores: PeopleStores;

const json = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

beforeAll(async () => {
  nats = await startNats();
  store = await openGatewayStore({ natsUrl: nats.url });
  stores = await openPeopleStores(store.bus.js, store.bus.jsm);
});
afterAll(async () => {
  await store?.close();
  await nats?.stop();
});

describe('sentinel user', () => {
  it('adds a user with a one-time onboarding link on the gateway origin', async () => {
    const added = await runCli(['user', 'add', 'alice', '--role', 'admin', '--nats', nats.url]);
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    const [line] = json(added.stdout);
    expect(Object.keys(line ?? {})).toEqual(['user', 'role', 'onboarding_url']);
    expect(line).toMatchObject({ user: 'alice', role: 'admin' });
    const url = String(line?.onboarding_url);
    expect(url).toMatch(/^http:\/\/localhost:8080\/onboarding#[A-Za-z0-9_-]{43}$/);
    const token = url.split('#')[1] ?? '';
    expect(await stores.users.onboarding(token)).toMatchObject({ name: 'alice' });
    expect(await stores.users.setPasswordFromOnboarding(token, 'alice password')).toMatchObject({
      name: 'alice',
    });

    // the port from the gateway's own option or environment, or the public URL
    const port = json(
      (
        await runCli(['user', 'add', 'bea', '--role', 'viewer', '--nats', nats.url], {
          SENTINEL_HTTP_PORT: '9443',
        })
      ).stdout,
    )[0];
    expect(String(port?.onboarding_url)).toMatch(/^http:\/\/localhost:9443\/onboarding#/);
    const pub = json(
      (
        await runCli([
          'user',
          'add',
          'cy',
          '--role',
          'viewer',
          '--public-url',
          'https://home.example/',
          '--nats',
          nats.url,
        ])
      ).stdout,
    )[0];
    expect(String(pub?.onboarding_url)).toMatch(/^https:\/\/home\.example\/onboarding#[A-Za-z0-9_-]{43}$/);
  });

  it('takes a password from stdin, less one trailing newline', async () => {
    const added = await runCli(
      ['user', 'add', 'bob', '--role', 'operator', '--password-stdin', '--nats', nats.url],
      {},
      'correct horse battery\n',
    );
    expect(added.stderr).toBe('');
    expect(json(added.stdout)).toEqual([{ user: 'bob', role: 'operator' }]);
    expect(await stores.users.verify('bob', 'correct horse battery')).toMatchObject({ role: 'operator' });
    expect(await stores.users.verify('bob', 'correct horse battery\n')).toBeUndefined();

    const short = await runCli(
      ['user', 'add', 'dan', '--role', 'viewer', '--password-stdin', '--nats', nats.url],
      {},
      'short\n',
    );
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(/^sentinel: a password needs at least 10 characters\n$/);
    expect(await stores.users.get('dan')).toBeUndefined();
  });

  it('lists users without secrets and records who did what', async () => {
    const listed = await runCli(['user', 'list'], { SENTINEL_NATS_URL: nats.url });
    expect(listed.code).toBe(0);
    const users = json(listed.stdout);
    expect(users.map((u) => u.user)).toEqual(['alice', 'bea', 'bob', 'cy']);
    expect(users.find((u) => u.user === 'bea')).toMatchObject({ role: 'viewer', onboarding_pending: true });
    expect(listed.stdout).not.toMatch(/scrypt|sha256|password/);
    const audit = await stores.audit.query({ actor: 'cli', target: 'bob' });
    expect(audit[0]).toMatchObject({
      action: 'user_add',
      from: 'cli',
      outcome: 'ok',
      detail: { role: 'operator' },
    });
  });

  it('removes users, never the last admin; errors are one line', async () => {
    const last = await runCli(['user', 'remove', 'alice', '--nats', nats.url]);
    expect(last.code).toBe(1);
    expect(last.stderr).toMatch(/^sentinel: cannot remove "alice": it is the last admin[^\n]*\n$/);
    const session = await stores.sessions.create('bob');
    const removed = await runCli(['user', 'remove', 'bob', '--nats', nats.url]);
    expect(removed.code).toBe(0);
    expect(json(removed.stdout)).toEqual([{ user: 'bob', removed: true }]);
    expect(await stores.sessions.validate(session.token)).toBeUndefined(); // their sessions ended
    const again = await runCli(['user', 'remove', 'bob', '--nats', nats.url]);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe('sentinel: no user "bob"\n');
    const twice = await runCli(['user', 'add', 'alice', '--role', 'viewer', '--nats', nats.url]);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toBe('sentinel: user "alice" exists already\n');
  });

  it('exits 2 on bad usage, before touching the store', async () => {
    for (const args of [
      ['user', 'add', 'Not Valid!', '--role', 'viewer'],
      ['user', 'add', 'eve', '--role', 'root'],
      ['user', 'add', 'eve'],
      ['user', 'add', 'eve', '--role', 'viewer', '--public-url', 'ftp://x'],
      ['user', 'remove', 'Bad/Name'],
      ['token', 'create', '--role', 'god'],
      ['token', 'create'],
      ['token', 'create', '--role', 'viewer', '--name', 'No Spaces'],
    ]) {
      // an unreachable store: exit 2 proves the check came first
      const { code, stderr } = await runCli([...args, '--nats', 'nats://127.0.0.1:1']);
      expect(code, args.join(' ')).toBe(2);
      expect(stderr.trim().split('\n'), args.join(' ')).toHaveLength(stderr.includes('--help') ? 2 : 1);
    }
    const role = await runCli(['user', 'add', 'eve', '--role', 'root', '--nats', 'nats://127.0.0.1:1']);
    expect(role.stderr).toMatch(/admin, operator or viewer/);
    const name = await runCli(['user', 'add', 'Eve', '--role', 'viewer', '--nats', 'nats://127.0.0.1:1']);
    expect(name.stderr).toMatch(/\[a-z0-9\._-\]/);
  });
});

describe('sentinel token', () => {
  it('creates a token shown once, lists without it, revokes it', async () => {
    const created = await runCli(['token', 'create', '--role', 'viewer', '--nats', nats.url]);
    expect(created.code).toBe(0);
    const [token] = json(created.stdout);
    expect(Object.keys(token ?? {})).toEqual(['name', 'role', 'token']);
    expect(token?.name).toMatch(/^token-\d{8}-[0-9a-f]{4}$/);
    expect(token?.token).toMatch(/^sen_[A-Za-z0-9_-]{43}$/);

    const named = json(
      (await runCli(['token', 'create', '--role', 'operator', '--name', 'prometheus', '--nats', nats.url]))
        .stdout,
    )[0];
    expect(named).toMatchObject({ name: 'prometheus', role: 'operator' });

    const listed = await runCli(['token', 'list', '--nats', nats.url]);
    expect(json(listed.stdout).map((t) => t.name)).toEqual([String(token?.name), 'prometheus'].sort());
    expect(listed.stdout).not.toContain('sen_');

    const clash = await runCli([
      'token',
      'create',
      '--role',
      'viewer',
      '--name',
      'prometheus',
      '--nats',
      nats.url,
    ]);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toBe('sentinel: a token named "prometheus" exists already\n');

    const revoked = await runCli(['token', 'revoke', 'prometheus', '--nats', nats.url]);
    expect(revoked.code).toBe(0);
    expect(json(revoked.stdout)).toEqual([{ name: 'prometheus', revoked: true }]);
    const again = await runCli(['token', 'revoke', 'prometheus', '--nats', nats.url]);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe('sentinel: no token named "prometheus"\n');

    const audit = await stores.audit.query({ actor: 'cli', target: 'prometheus' });
    expect(audit.map((r) => [r.action, r.outcome])).toEqual([
      ['token_revoke', 'not_found'],
      ['token_revoke', 'ok'],
      ['token_create', 'conflict'],
      ['token_create', 'ok'],
    ]);
    expect(JSON.stringify(await stores.audit.query())).not.toContain('sen_');
  });
});
