// Log-in throttling: backoff after 5 failures per (account, address), refused
// without checking the password, the owner still able to log in from another
// address, and the state the admin page shows. The policy in memory with a
// hand-moved clock; log-in through People against a real nats-server.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  addressKey,
  BadCredentialsError,
  LoginThrottle,
  type People,
  ThrottledError,
} from '../src/people/index.js';
import { manualClock, type PeopleTestBed, peopleTestBed } from './people-support.js';

describe('LoginThrottle', () => {
  it('backs off 1 s, 2 s, 4 s … after 5 failures, capped at 15 min, and a success starts over', () => {
    const clock = manualClock();
    const throttle = new LoginThrottle({ clock: clock.now });
    for (let i = 0; i < 4; i++) expect(throttle.attempt('ann', '10.0.0.9')).toBe(0);
    expect(throttle.attempt('ann', '10.0.0.9')).toBe(0); // the 5th is still checked …
    expect(throttle.attempt('ann', '10.0.0.9')).toBe(1000); // … and starts the backoff
    clock.advance(999);
    expect(throttle.attempt('ann', '10.0.0.9')).toBe(1);
    clock.advance(1);
    expect(throttle.attempt('ann', '10.0.0.9')).toBe(0);
    expect(throttle.attempt('ann', '10.0.0.9')).toBe(2000);
    clock.advance(2000);
    expect(throttle.attempt('ann', '10.0.0.9')).toBe(0);
    expect(throttle.attempt('ann', '10.0.0.9')).toBe(4000);
    const waits: number[] = [];
    for (let i = 0; i < 15; i++) {
      clock.advance(throttle.attempt('ann', '10.0.0.9'));
      expect(throttle.attempt('ann', '10.0.0.9')).toBe(0);
      waits.push(throttle.attempt('ann', '10.0.0.9'));
    }
    expect(Math.max(...waits)).toBe(15 * 60_000);
    clock.advance(15 * 60_000);
    throttle.success('ann', '10.0.0.9');
    for (let i = 0; i < 5; i++) expect(throttle.attempt('ann', '10.0.0.9')).toBe(0);
  });

  it('counts an attempt when it starts, so parallel guesses cannot slip past the check', () => {
    const throttle = new LoginThrottle({ clock: manualClock().now });
    const verdicts = Array.from({ length: 50 }, () => throttle.attempt('ann', '10.0.0.9'));
    expect(verdicts.filter((wait) => wait === 0)).toHaveLength(5);
  });

  it('does not lock the owner out from another address', () => {
    const throttle = new LoginThrottle({ clock: manualClock().now });
    for (let i = 0; i < 20; i++) throttle.attempt('ann', '203.0.113.66');
    expect(throttle.attempt('ann', '203.0.113.66')).toBeGreaterThan(0);
    expect(throttle.attempt('ann', '192.168.1.20')).toBe(0);
    throttle.success('ann', '192.168.1.20');
    // the attacker's own counter is not reset by the owner's success
    expect(throttle.attempt('ann', '203.0.113.66')).toBeGreaterThan(0);
  });

  it('slows a guess spread over many addresses, but not for an address the owner used before', () => {
    const throttle = new LoginThrottle({ clock: manualClock().now });
    throttle.attempt('ann', '192.168.1.20');
    throttle.success('ann', '192.168.1.20');
    for (let i = 0; i < 100; i++) expect(throttle.attempt('ann', `198.51.100.${i}`)).toBe(0);
    expect(throttle.attempt('ann', '198.51.100.200')).toBeGreaterThan(0);
    expect(throttle.state('ann')).toMatchObject({ failures: 100, locked_until: expect.any(Number) });
    expect(throttle.attempt('ann', '192.168.1.20')).toBe(0);
  });

  it('slows one address trying many user names', () => {
    const throttle = new LoginThrottle({ clock: manualClock().now });
    for (let i = 0; i < 20; i++) expect(throttle.attempt(`user${i}`, '203.0.113.5')).toBe(0);
    expect(throttle.attempt('user99', '203.0.113.5')).toBeGreaterThan(0);
    expect(throttle.attempt('user99', '203.0.113.6')).toBe(0);
  });

  it('counts IPv6 clients per /64 and IPv4-mapped addresses as IPv4', () => {
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(addressKey('192.0.2.7')).toBe('192.0.2.7');
    const throttle = new LoginThrottle({ clock: manualClock().now });
    for (let i = 0; i < 5; i++) throttle.attempt('ann', `2001:db8:1:2::${i + 1}`);
    expect(throttle.attempt('ann', '2001:db8:1:2::ffff')).toBeGreaterThan(0);
  });

  it('forgets quiet counters after a day, and an admin can unlock', () => {
    const clock = manualClock();
    const throttle = new LoginThrottle({ clock: clock.now });
    const fail = (times: number) => {
      for (let n = 0; n < times; ) {
        const wait = throttle.attempt('ann', '10.0.0.9');
        if (wait > 0) clock.advance(wait);
        else n++;
      }
    };
    fail(8);
    expect(throttle.state('ann').addresses).toEqual([
      { address: '10.0.0.9', failures: 8, locked_until: expect.any(Number) },
    ]);
    throttle.unlock('ann');
    expect(throttle.state('ann')).toEqual({ failures: 0, addresses: [] });
    expect(throttle.attempt('ann', '10.0.0.9')).toBe(0);
    fail(8);
    expect(throttle.attempt('ann', '10.0.0.9')).toBeGreaterThan(0);
    clock.advance(24 * 3600_000 + 1);
    expect(throttle.attempt('ann', '10.0.0.9')).toBe(0);
  });
});

describe('log-in through People', () => {
  let bed: PeopleTestBed;
  let people: People;
  const clock = manualClock();

  beforeAll(async () => {
    bed = await peopleTestBed();
    people = await bed.started({ clock: clock.now });
    await people.users.addWithPassword('owner', 'admin', 'owner password 1');
  });
  afterAll(async () => {
    await bed?.stop();
  });

  it('throttles 20 wrong passwords from one address; the owner still logs in from another', async () => {
    const attacker = '203.0.113.66';
    const outcomes: string[] = [];
    for (let i = 0; i < 20; i++) {
      const error = await people.login('owner', `guess number ${i}`, attacker).catch((e: unknown) => e);
      outcomes.push((error as Error).name);
    }
    expect(outcomes.slice(0, 5)).toEqual(Array(5).fill('BadCredentialsError'));
    expect(outcomes.slice(5)).toEqual(Array(15).fill('ThrottledError'));

    // while throttled, the password is not even looked at — the right one is refused too
    const verify = vi.spyOn(people.users, 'verify');
    const refused = await people.login('owner', 'owner password 1', attacker).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ThrottledError);
    expect((refused as ThrottledError).retryAfterMs).toBe(1000);
    expect(verify).not.toHaveBeenCalled();
    verify.mockRestore();

    // the admin page sees it
    const listed = (await people.listUsers()).find((u) => u.name === 'owner');
    expect(listed?.failures).toBe(5);

    // the owner, elsewhere
    const { user, token, session } = await people.login('owner', 'owner password 1', '192.168.1.20');
    expect(user).toMatchObject({ name: 'owner', role: 'admin' });
    expect(await people.authenticate({ sessionToken: token })).toMatchObject({
      kind: 'session',
      user: 'owner',
      role: 'admin',
      session: { id: session.id },
    });
    expect((await people.listUsers()).find((u) => u.name === 'owner')?.failures).toBe(0);

    // the attacker is still backing off, and once the wait is over gets one more guess
    await expect(people.login('owner', 'guess again', attacker)).rejects.toBeInstanceOf(ThrottledError);
    clock.advance(1000);
    await expect(people.login('owner', 'guess again', attacker)).rejects.toBeInstanceOf(BadCredentialsError);
    await expect(people.login('owner', 'guess again', attacker)).rejects.toMatchObject({
      retryAfterMs: 2000,
    });
  });

  it('answers an unknown user like a wrong password, and throttles it the same way', async () => {
    for (let i = 0; i < 5; i++)
      await expect(people.login('ghost', 'whatever 123', '10.9.9.9')).rejects.toBeInstanceOf(
        BadCredentialsError,
      );
    await expect(people.login('ghost', 'whatever 123', '10.9.9.9')).rejects.toBeInstanceOf(ThrottledError);
  });

  it('clears a lock-out when an admin unlocks the user', async () => {
    await people.users.addWithPassword('kid', 'viewer', 'kid password 1');
    for (let i = 0; i < 5; i++) await people.login('kid', 'forgot it!!', '10.1.1.1').catch(() => undefined);
    await expect(people.login('kid', 'kid password 1', '10.1.1.1')).rejects.toBeInstanceOf(ThrottledError);
    const unlocked = await people.unlock('kid', { actor: 'user:owner', from: '192.168.1.20' });
    expect(unlocked).toMatchObject({ name: 'kid', failures: 0 });
    expect(await people.login('kid', 'kid password 1', '10.1.1.1')).toMatchObject({ user: { name: 'kid' } });
  });
});
