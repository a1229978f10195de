// Log-in throttling, in memory on each node (a node restart forgets it, and an
// attacker alternating between two nodes gets at most twice the attempts: both
// are small next to the backoff). Three counters, each with exponential backoff
// once its free failures are spent (1 s, 2 s, 4 s, … capped at 15 min):
//
// - (account, address): 5 free failures. The usual case: someone guessing one
//   account from one place. The owner on another address is not affected.
// - address, over all accounts: 20 free. One place spraying many user names.
// - account, over all addresses: 100 free. A guess spread over many addresses.
//   It does not apply to addresses that logged into this account before (kept
//   for 30 days), so a distributed attack cannot lock the owner out either.
//
// An attempt is counted as a failure when it starts and forgiven when it
// succeeds: a hundred parallel requests cannot all slip past the check while
// the first scrypt runs. While locked, attempts are refused WITHOUT checking the
// password and do not count. A success resets the pair, the address and the
// account counters. Counters are forgotten a day after their last failure.
// IPv6 clients are counted per /64 (one household's prefix), IPv4-mapped IPv6
// addresses as IPv4.
import { isIPv6 } from 'node:net';
import type { Clock } from './model.js';

export interface ThrottleRule {
  /** failures before the first backoff */
  free: number;
}

export interface ThrottleOptions {
  clock?: Clock;
  pair?: ThrottleRule;
  address?: ThrottleRule;
  account?: ThrottleRule;
  /** first backoff, doubled with every further failure */
  baseMs?: number;
  maxMs?: number;
  /** a counter without failures for this long starts over */
  forgetMs?: number;
  /** how long a successful address stays exempt from the account-wide counter */
  knownMs?: number;
  /** bound on remembered counters; the oldest go first */
  maxEntries?: number;
}

interface Counter {
  failures: number;
  lockedUntil: number;
  last: number;
}

/** What the admin page shows for a user. */
export interface ThrottleState {
  /** failures counted against the account (all addresses) since its last success */
  failures: number;
  /** the account-wide lock, when one is on */
  locked_until?: number;
  /** addresses currently locked out of this account */
  addresses: { address: string; failures: number; locked_until: number }[];
}

const MINUTE = 60_000;

export class LoginThrottle {
  readonly #clock: Clock;
  readonly #free: { pair: number; address: number; account: number };
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #forgetMs: number;
  readonly #knownMs: number;
  readonly #maxEntries: number;
  readonly #pairs = new Map<string, Counter>();
  readonly #addresses = new Map<string, Counter>();
  readonly #accounts = new Map<string, Counter>();
  /** account → address → last success */
  readonly #known = new Map<string, Map<string, number>>();

  constructor(options: ThrottleOptions = {}) {
    this.#clock = options.clock ?? Date.now;
    this.#free = {
      pair: options.pair?.free ?? 5,
      address: options.address?.free ?? 20,
      account: options.account?.free ?? 100,
    };
    this.#baseMs = options.baseMs ?? 1000;
    this.#maxMs = options.maxMs ?? 15 * MINUTE;
    this.#forgetMs = options.forgetMs ?? 24 * 60 * MINUTE;
    this.#knownMs = options.knownMs ?? 30 * 24 * 60 * MINUTE;
    this.#maxEntries = options.maxEntries ?? 50_000;
  }

  /**
   * Starts an attempt: 0 when it may go on (and it is counted as a failure until
   * `success` forgives it), else the milliseconds until the next attempt may be made.
   */
  attempt(account: string, address: string): number {
    const now = this.#clock();
    const keys = this.#keys(account, address);
    const known = this.#isKnown(keys.account, keys.address, now);
    const until = Math.max(
      this.#get(this.#pairs, keys.pair, now)?.lockedUntil ?? 0,
      this.#get(this.#addresses, keys.address, now)?.lockedUntil ?? 0,
      known ? 0 : (this.#get(this.#accounts, keys.account, now)?.lockedUntil ?? 0),
    );
    if (until > now) return until - now;
    this.#fail(this.#pairs, keys.pair, this.#free.pair, now);
    this.#fail(this.#addresses, keys.address, this.#free.address, now);
    this.#fail(this.#accounts, keys.account, this.#free.account, now);
    return 0;
  }

  /** The attempt was right: this client's and the account's counters start over. */
  success(account: string, address: string): void {
    const now = this.#clock();
    const keys = this.#keys(account, address);
    this.#pairs.delete(keys.pair);
    this.#addresses.delete(keys.address);
    this.#accounts.delete(keys.account);
    const known = this.#known.get(keys.account) ?? new Map<string, number>();
    known.delete(keys.address);
    known.set(keys.address, now);
    // a person logs in from a few places; keep the latest 32
    for (const [old] of known) {
      if (known.size <= 32) break;
      known.delete(old);
    }
    this.#known.set(keys.account, known);
  }

  state(account: string): ThrottleState {
    const now = this.#clock();
    const key = accountKey(account);
    const counter = this.#get(this.#accounts, key, now);
    const addresses: ThrottleState['addresses'] = [];
    const prefix = `${key}\n`;
    for (const [pair, c] of this.#pairs) {
      if (pair.startsWith(prefix) && c.lockedUntil > now)
        addresses.push({
          address: pair.slice(prefix.length),
          failures: c.failures,
          locked_until: c.lockedUntil,
        });
    }
    return {
      failures: counter?.failures ?? 0,
      ...(counter && counter.lockedUntil > now ? { locked_until: counter.lockedUntil } : {}),
      addresses,
    };
  }

  /** An admin's unlock: the account's counter and every (account, address) counter go. */
  unlock(account: string): void {
    const key = accountKey(account);
    this.#accounts.delete(key);
    for (const pair of [...this.#pairs.keys()]) if (pair.startsWith(`${key}\n`)) this.#pairs.delete(pair);
  }

  #keys(account: string, address: string) {
    const a = accountKey(account);
    const from = addressKey(address);
    return { pair: `${a}\n${from}`, address: from, account: a };
  }

  #isKnown(account: string, address: string, now: number): boolean {
    const at = this.#known.get(account)?.get(address);
    return at !== undefined && now - at <= this.#knownMs;
  }

  /** The counter, unless it has been quiet long enough to be forgotten. */
  #get(map: Map<string, Counter>, key: string, now: number): Counter | undefined {
    const counter = map.get(key);
    if (counter && now - counter.last > this.#forgetMs && counter.lockedUntil <= now) {
      map.delete(key);
      return undefined;
    }
    return counter;
  }

  #fail(map: Map<string, Counter>, key: string, free: number, now: number): void {
    const counter = this.#get(map, key, now) ?? { failures: 0, lockedUntil: 0, last: now };
    counter.failures += 1;
    counter.last = now;
    if (counter.failures >= free) {
      const exponent = Math.min(counter.failures - free, 30);
      counter.lockedUntil = now + Math.min(this.#maxMs, this.#baseMs * 2 ** exponent);
    }
    // re-inserted, so the map's order is least recently failed first
    map.delete(key);
    map.set(key, counter);
    for (const [oldest] of map) {
      if (map.size <= this.#maxEntries) break;
      map.delete(oldest);
    }
  }
}

/** Names are at most 64 characters; whatever else is typed is cut, so it cannot grow memory. */
const accountKey = (account: string) => account.slice(0, 64);

/** An address as counted: IPv4 as is (also when mapped into IPv6), IPv6 by its /64. */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return mapped[1];
  if (!isIPv6(address)) return address.slice(0, 64);
  const [head = '', tail = ''] = address.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::')
    ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}
