// Accounts in KV sentinel_users against a real nats-server: onboarding tokens
// used once, passwords verified, first writer wins, the last admin kept, and
// each kind of bad input refused with its own error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InvalidNameError,
  InvalidRoleError,
  LastAdminError,
  OnboardingTokenGoneError,
  PasswordPolicyError,
  type PeopleStores,
  UnknownUserError,
  USERS_BUCKET,
  UserExistsError,
} from '../src/people/index.js';
import { type PeopleTestBed, peopleTestBed } from './people-support.js';

let bed: PeopleTestBed;
let a: PeopleStores;
let b: PeopleStores;

beforeAll(async () => {
  bed = await peopleTestBed();
  a = (await bed.node()).stores;
  b = (await bed.node()).stores;
});
afterAll(async () => {
  await bed?.stop();
});

const PASSWORD = 'correct horse battery';

describe('users', () => {
  it('adds a user with a one-time onboarding token that sets the password once', async () => {
    const { user, token } = await a.users.add('alice', 'admin');
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(user).toMatchObject({ name: 'alice', role: 'admin', onboarding_pending: true });
    // no password yet: nothing verifies
    expect(await a.users.verify('alice', PASSWORD)).toBeUndefined();
    // the other node finds the token (GET /api/onboarding/<token>)
    expect(await b.users.onboarding(token)).toMatchObject({ name: 'alice', role: 'admin' });

    // a password under the policy does not spend the link
    await expect(b.users.setPasswordFromOnboarding(token, 'short')).rejects.toBeInstanceOf(
      PasswordPolicyError,
    );
    const done = await b.users.setPasswordFromOnboarding(token, PASSWORD);
    expect(done).toMatchObject({ name: 'alice', onboarding_pending: false });
    expect(await a.users.verify('alice', PASSWORD)).toMatchObject({ name: 'alice', role: 'admin' });

    // replayed: gone, and the password stays the one set
    await expect(a.users.setPasswordFromOnboarding(token, 'another password')).rejects.toBeInstanceOf(
      OnboardingTokenGoneError,
    );
    await expect(a.users.onboarding(token)).rejects.toBeInstanceOf(OnboardingTokenGoneError);
    expect(await a.users.verify('alice', 'another password')).toBeUndefined();
  });

  it('lets only one of two simultaneous uses of an onboarding link win', async () => {
    const { token } = await a.users.add('carol', 'viewer');
    const results = await Promise.allSettled([
      a.users.setPasswordFromOnboarding(token, 'password of node a'),
      b.users.setPasswordFromOnboarding(token, 'password of node b'),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const lost = results.find((r) => r.status === 'rejected');
    expect(lost?.status === 'rejected' && lost.reason).toBeInstanceOf(OnboardingTokenGoneError);
  });

  it('refuses an onboarding token that was never issued', async () => {
    await expect(a.users.onboarding('A'.repeat(43))).rejects.toBeInstanceOf(OnboardingTokenGoneError);
    await expect(a.users.setPasswordFromOnboarding('nope', PASSWORD)).rejects.toBeInstanceOf(
      OnboardingTokenGoneError,
    );
  });

  it('verifies passwords; an unknown user and a wrong password look the same', async () => {
    await a.users.addWithPassword('dave', 'operator', PASSWORD);
    expect(await b.users.verify('dave', PASSWORD)).toMatchObject({ name: 'dave', role: 'operator' });
    expect(await b.users.verify('dave', 'wrong password')).toBeUndefined();
    expect(await b.users.verify('nobody', PASSWORD)).toBeUndefined();
    expect(await b.users.verify('Not A Name', PASSWORD)).toBeUndefined();
  });

  it('stores only hashes: no password and no onboarding token in KV', async () => {
    const { token } = await a.users.add('erin', 'viewer');
    await a.users.addWithPassword('frank', 'viewer', PASSWORD);
    const raw = [
      (await a.users.kv.get('erin'))?.string() ?? '',
      (await a.users.kv.get('frank'))?.string() ?? '',
    ].join('\n');
    expect(raw).not.toContain(token);
    expect(raw).not.toContain(PASSWORD);
    expect(raw).toMatch(/"sha256":"[0-9a-f]{64}"/);
    expect(raw).toMatch(/"password":"\$scrypt\$/);
    expect((await a.users.kv.status()).bucket).toBe(USERS_BUCKET);
    // and listing shows no secret at all
    const listed = JSON.stringify(await a.users.list());
    expect(listed).not.toMatch(/scrypt|sha256/);
  });

  it('first writer wins when two nodes add the same name at once', async () => {
    const results = await Promise.allSettled([a.users.add('gina', 'admin'), b.users.add('gina', 'viewer')]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const lost = results.find((r) => r.status === 'rejected');
    expect(lost?.status === 'rejected' && lost.reason).toBeInstanceOf(UserExistsError);
    await expect(a.users.addWithPassword('gina', 'viewer', PASSWORD)).rejects.toBeInstanceOf(UserExistsError);
  });

  it('changes roles and removes users, never the last admin', async () => {
    // alice and (maybe) gina are admins; remove gina so alice is the only one
    await a.users.remove('gina');
    expect((await a.users.list()).filter((u) => u.role === 'admin').map((u) => u.name)).toEqual(['alice']);
    await expect(a.users.remove('alice')).rejects.toBeInstanceOf(LastAdminError);
    await expect(a.users.setRole('alice', 'viewer')).rejects.toBeInstanceOf(LastAdminError);

    expect(await a.users.setRole('dave', 'admin')).toMatchObject({ name: 'dave', role: 'admin' });
    expect(await b.users.verify('dave', PASSWORD)).toMatchObject({ role: 'admin' });
    expect(await a.users.setRole('alice', 'viewer')).toMatchObject({ role: 'viewer' });
    await a.users.remove('alice');
    expect(await b.users.get('alice')).toBeUndefined();
    expect(await b.users.verify('alice', PASSWORD)).toBeUndefined();
  });

  it('gives each bad input its own error', async () => {
    for (const name of ['', 'Alice', '-x', 'a b', 'a/b', 'x'.repeat(65), 'ä']) {
      await expect(a.users.add(name, 'viewer'), name).rejects.toBeInstanceOf(InvalidNameError);
    }
    await expect(a.users.add('henry', 'root')).rejects.toBeInstanceOf(InvalidRoleError);
    await expect(a.users.add('henry', 'root')).rejects.toThrow(/admin, operator or viewer/);
    await expect(a.users.add('Bad', 'viewer')).rejects.toThrow(/\[a-z0-9\._-\]/);
    await expect(a.users.addWithPassword('henry', 'viewer', 'too short')).rejects.toBeInstanceOf(
      PasswordPolicyError,
    );
    expect(await a.users.get('henry')).toBeUndefined(); // nothing half written
    await expect(a.users.remove('nobody')).rejects.toBeInstanceOf(UnknownUserError);
    await expect(a.users.setRole('nobody', 'viewer')).rejects.toBeInstanceOf(UnknownUserError);
    await expect(a.users.setRole('dave', 'superuser')).rejects.toBeInstanceOf(InvalidRoleError);
  });
});
