// Exponential backoff with a ceiling, reset after success.
export class Backoff {
  #attempt = 0;

  constructor(
    readonly initialMs = 500,
    readonly maxMs = 30_000,
  ) {}

  get attempt(): number {
    return this.#attempt;
  }

  next(): number {
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** this.#attempt);
    this.#attempt++;
    // half fixed, half jitter: proxies that lost power together do not retry in lockstep
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  reset(): void {
    this.#attempt = 0;
  }
}
