// Deduplication across proxies: which proxy speaks for an address. Each proxy's
// hearing of an address keeps a smoothed RSSI and the learned advertising
// interval; the owner changes when another proxy is clearly louder (hysteresis,
// so two proxies at similar strength do not flap) or when the owner has gone
// quiet for a few of the device's own intervals (it died, or the device moved).
export interface OwnerOptions {
  /** a challenger must be this many dB louder (smoothed) to take over */
  hysteresisDb: number;
  /** weight of a new RSSI sample in the moving average */
  alpha: number;
  /** the owner is stale after this many learned intervals without a word… */
  staleIntervals: number;
  /** …but never sooner than this */
  minStaleMs: number;
  /** a hearing older than this is forgotten */
  forgetMs: number;
}

export const OWNER_DEFAULTS: OwnerOptions = {
  hysteresisDb: 6,
  alpha: 0.25,
  staleIntervals: 3,
  minStaleMs: 1500,
  forgetMs: 10 * 60_000,
};

export interface Hearing {
  proxy: string;
  rssi: number;
  /** gateway time of the last advertisement from this proxy */
  lastSeen: number;
  /** proxy time of the last advertisement, for the interval */
  lastTs: number;
  /** learned advertising interval as this proxy hears it (ms), once known */
  intervalMs: number | undefined;
}

export type OwnerVerdict =
  | { owner: true; handover?: { from: string; why: 'stale' | 'louder' | 'gone' } }
  | { owner: false };

interface Address {
  owner: string | undefined;
  hearings: Map<string, Hearing>;
}

export class OwnerTable {
  readonly #addresses = new Map<string, Address>();
  readonly o: OwnerOptions;

  constructor(
    options: Partial<OwnerOptions> = {},
    private readonly isProxyAlive: (proxy: string) => boolean = () => true,
  ) {
    this.o = { ...OWNER_DEFAULTS, ...options };
  }

  /** Records an advertisement and says whether this proxy is (now) the address's owner. */
  observe(mac: string, proxy: string, rssi: number, ts: number, now: number): OwnerVerdict {
    let address = this.#addresses.get(mac);
    if (!address) {
      address = { owner: undefined, hearings: new Map() };
      this.#addresses.set(mac, address);
    }
    const hearing = this.#hear(address, proxy, rssi, ts, now);
    if (address.owner === undefined) {
      address.owner = proxy;
      return { owner: true };
    }
    if (address.owner === proxy) return { owner: true };
    const current = address.hearings.get(address.owner);
    const from = address.owner;
    if (!current || !this.isProxyAlive(from)) {
      address.owner = proxy;
      return { owner: true, handover: { from, why: 'gone' } };
    }
    if (now - current.lastSeen > this.staleAfter(current)) {
      address.owner = proxy;
      return { owner: true, handover: { from, why: 'stale' } };
    }
    if (hearing.rssi > current.rssi + this.o.hysteresisDb) {
      address.owner = proxy;
      return { owner: true, handover: { from, why: 'louder' } };
    }
    return { owner: false };
  }

  staleAfter(hearing: Hearing): number {
    return Math.max(this.o.minStaleMs, this.o.staleIntervals * (hearing.intervalMs ?? 0));
  }

  owner(mac: string): string | undefined {
    return this.#addresses.get(mac)?.owner;
  }

  /** Proxies that heard the address recently, loudest first (for GATT routing). */
  hearings(mac: string, now: number): Hearing[] {
    const address = this.#addresses.get(mac);
    if (!address) return [];
    return [...address.hearings.values()]
      .filter((h) => now - h.lastSeen <= Math.max(30_000, 10 * this.staleAfter(h)))
      .sort((a, b) => b.rssi - a.rssi);
  }

  /** The shortest interval any proxy learned (for availability), undefined until learned. */
  intervalMs(mac: string): number | undefined {
    let best: number | undefined;
    for (const h of this.#addresses.get(mac)?.hearings.values() ?? [])
      if (h.intervalMs !== undefined && (best === undefined || h.intervalMs < best)) best = h.intervalMs;
    return best;
  }

  /** Drops hearings nobody refreshed for a long time (devices that moved away). */
  sweep(now: number): void {
    for (const [mac, address] of this.#addresses) {
      for (const [proxy, h] of address.hearings)
        if (now - h.lastSeen > this.o.forgetMs) address.hearings.delete(proxy);
      if (address.hearings.size === 0) this.#addresses.delete(mac);
      else if (address.owner && !address.hearings.has(address.owner)) address.owner = undefined;
    }
  }

  #hear(address: Address, proxy: string, rssi: number, ts: number, now: number): Hearing {
    let h = address.hearings.get(proxy);
    if (!h) {
      h = { proxy, rssi, lastSeen: now, lastTs: ts, intervalMs: undefined };
      address.hearings.set(proxy, h);
      return h;
    }
    h.rssi += this.o.alpha * (rssi - h.rssi);
    const gap = ts - h.lastTs;
    // gaps of one batch (0 ms) and wild ones (a proxy's clock jumped) teach nothing
    if (gap > 0 && gap < 600_000) {
      h.intervalMs = h.intervalMs === undefined ? gap : h.intervalMs + 0.2 * (gap - h.intervalMs);
    }
    h.lastTs = Math.max(h.lastTs, ts);
    h.lastSeen = now;
    return h;
  }
}
