// What the adapter knows of each proxy, from its status heartbeats.
import { type ProxyStatus, ProxyStatusSchema } from '@sentinel/protocol';

export interface KnownProxy {
  status: ProxyStatus;
  receivedAt: number;
}

export class ProxyDirectory {
  readonly #proxies = new Map<string, KnownProxy>();

  /** Takes a status message; false when it is not one (counted by the caller). */
  update(proxyId: string, body: unknown, now: number): boolean {
    const parsed = ProxyStatusSchema.safeParse(body);
    if (!parsed.success || parsed.data.proxy !== proxyId) return false;
    this.#proxies.set(proxyId, { status: parsed.data, receivedAt: now });
    return true;
  }

  /** An advertisement batch arrived: the proxy is alive even between heartbeats. */
  heard(proxyId: string, now: number): void {
    const known = this.#proxies.get(proxyId);
    if (known && !known.status.stopping) known.receivedAt = Math.max(known.receivedAt, now);
  }

  /** Alive: not stopping, and a heartbeat within two and a half intervals (unknown proxies count as alive until one is missed). */
  alive(proxyId: string, now: number): boolean {
    const known = this.#proxies.get(proxyId);
    if (!known) return true;
    if (known.status.stopping) return false;
    return now - known.receivedAt <= 2.5 * known.status.interval_ms;
  }

  /** the proxies known now (the HTTP API lists them) */
  ids(): string[] {
    return [...this.#proxies.keys()];
  }

  get(proxyId: string): KnownProxy | undefined {
    return this.#proxies.get(proxyId);
  }

  /**
   * Forgets proxies silent for `forgetMs` (ids that come and go must not pile up).
   * Use a span longer than the owner table's memory of hearings: a forgotten proxy
   * counts as alive again, which is harmless once nothing it heard is remembered.
   */
  sweep(now: number, forgetMs: number): void {
    for (const [id, known] of this.#proxies) if (now - known.receivedAt > forgetMs) this.#proxies.delete(id);
  }

  count(now: number): number {
    let n = 0;
    for (const id of this.#proxies.keys()) if (this.alive(id, now)) n++;
    return n;
  }
}
