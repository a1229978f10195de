// Reconnect delays: exponential with "equal jitter" (half fixed, half random), so
// a fleet that lost its gateway at the same moment does not come back in lockstep,
// yet no device retries with a near-zero delay.
import type { Random } from './random.js';

export interface BackoffOptions {
  /** the delay before the first retry (before jitter) */
  initialMs: number;
  /** no delay is ever longer than this */
  maxMs: number;
  /** growth per failed attempt */
  factor: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 30_000, factor: 2 };

export class Backoff {
  readonly options: BackoffOptions;
  #attempt = 0;

  constructor(
    options: Partial<BackoffOptions> = {},
    private readonly random: Random = Math.random,
  ) {
    this.options = { ...DEFAULT_BACKOFF, ...options };
    if (
      !(this.options.initialMs > 0) ||
      !(this.options.maxMs >= this.options.initialMs) ||
      !(this.options.factor >= 1)
    ) {
      throw new RangeError('backoff needs 0 < initialMs <= maxMs and factor >= 1');
    }
  }

  /** how many delays were handed out since the last reset */
  get attempt(): number {
    return this.#attempt;
  }

  /** the next delay in ms, in [ceiling / 2, ceiling) where ceiling = min(maxMs, initialMs · factor^attempt) */
  next(): number {
    const { initialMs, maxMs, factor } = this.options;
    const ceiling = Math.min(maxMs, initialMs * factor ** this.#attempt);
    this.#attempt++;
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }

  /** after a connection that held: the next failure starts from initialMs again */
  reset(): void {
    this.#attempt = 0;
  }
}
