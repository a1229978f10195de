// A token bucket per device: a device that sends faster than its rate is slowed
// down (its next message waits), never disconnected and never dropped.
export class TokenBucket {
  #tokens: number;
  #updated = performance.now();

  /** rate 0 disables the limit */
  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
  ) {
    this.#tokens = burst;
  }

  /** Takes one token; returns 0 when the message may go now, else the milliseconds to wait. */
  take(): number {
    if (this.ratePerSecond === 0) return 0;
    const now = performance.now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#updated) * this.ratePerSecond) / 1000);
    this.#updated = now;
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : (-this.#tokens * 1000) / this.ratePerSecond;
  }
}
