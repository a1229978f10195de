// What every trigger evaluator shares: how it reports a firing and what it is told.
import type { Clock } from '../../clock.js';
import type { StateValue, TriggerEvent } from '../../sdk/define.js';

export type Firing = Omit<TriggerEvent, 'index' | 'kind' | 'ts'>;

export interface TriggerEnv {
  clock: Clock;
  /** reports a firing; the promise settles once the run is queued (not finished) */
  fire(firing: Firing): Promise<void> | void;
  /** durable state of this trigger (sentinel_automations) */
  load<T>(): Promise<T | undefined>;
  save(state: object): Promise<void>;
  location?: { latitude: number; longitude: number };
}

export interface ActiveTrigger {
  /** the entity whose readings and availability this trigger is told about */
  readonly entityId?: string;
  /** `current`: the entity's latest value at start (from sentinel_state), if any */
  start(current: StateValue | undefined): Promise<void>;
  onState?(value: StateValue, ts: number): Promise<void> | void;
  onAvailability?(available: boolean): Promise<void> | void;
  stop(): void;
}

/** above/below with hysteresis: beyond the bound fires, coming back past bound ∓ hysteresis re-arms */
export class Band {
  constructor(
    readonly above: number | undefined,
    readonly below: number | undefined,
    readonly hysteresis: number,
  ) {}

  beyond(v: number): boolean {
    return this.above !== undefined ? v > this.above : v < this.below!;
  }

  rearms(v: number): boolean {
    return this.above !== undefined ? v < this.above - this.hysteresis : v > this.below! + this.hysteresis;
  }

  describe(): string {
    return this.above !== undefined ? `above ${this.above}` : `below ${this.below}`;
  }
}

export const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

export const formatDuration = (ms: number) =>
  ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`;
