// Our own discovery configs come back to us: the publisher subscribes to every
// config topic to notice someone else writing on one of ours, and MQTT 3.1.1 has no
// "no local". Each payload we publish is remembered per topic until it comes back,
// so a message is ours when it matches one still on its way.

/** Enough for a burst of renames; an echo the broker never delivered is forgotten after this many. */
const MAX_PENDING = 16;

export class ConfigEchoes {
  readonly #pending = new Map<string, string[]>();

  /** Remember a payload just published on `topic`. */
  sent(topic: string, payload: string): void {
    const list = this.#pending.get(topic) ?? [];
    list.push(payload);
    if (list.length > MAX_PENDING) list.shift();
    this.#pending.set(topic, list);
  }

  /** Whether a message is the echo of one of ours (then forgotten, with anything older on that topic). */
  isEcho(topic: string, payload: string): boolean {
    const list = this.#pending.get(topic);
    const at = list?.indexOf(payload) ?? -1;
    if (!list || at < 0) return false;
    list.splice(0, at + 1);
    if (list.length === 0) this.#pending.delete(topic);
    return true;
  }

  /** A new connection: echoes of the old one will not come. */
  clear(): void {
    this.#pending.clear();
  }
}
