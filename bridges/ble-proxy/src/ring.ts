// A bounded FIFO: while NATS is unreachable the proxy keeps the newest
// advertisements and drops the oldest (counted), so memory never grows with an outage.
export class Ring<T> {
  readonly #items: (T | undefined)[];
  #head = 0;
  #size = 0;
  /** items pushed out to make room */
  dropped = 0;

  constructor(readonly capacity: number) {
    if (!(capacity >= 1)) throw new RangeError('capacity must be at least 1');
    this.#items = new Array(capacity);
  }

  get size(): number {
    return this.#size;
  }

  push(item: T): void {
    const tail = (this.#head + this.#size) % this.capacity;
    this.#items[tail] = item;
    if (this.#size === this.capacity) {
      this.#head = (this.#head + 1) % this.capacity;
      this.dropped++;
    } else {
      this.#size++;
    }
  }

  /** Removes and returns up to `count` items, oldest first. */
  take(count: number): T[] {
    const n = Math.min(count, this.#size);
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) {
      out[i] = this.#items[this.#head] as T;
      this.#items[this.#head] = undefined;
      this.#head = (this.#head + 1) % this.capacity;
    }
    this.#size -= n;
    return out;
  }
}
