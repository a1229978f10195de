// A numeric threshold with `for` and hysteresis. Its state (armed, when a pending `for`
// began) is saved in KV on every change, so a pending `for: 10m` resumes after a restart.
import type { TimerHandle } from '../../clock.js';
import type { StateValue } from '../../sdk/define.js';
import { type ActiveTrigger, type Band, formatDuration, isNumber, type TriggerEnv } from './types.js';

export interface ThresholdState {
  armed: boolean;
  /** clock time the value went beyond the bound, while a `for` runs */
  pending_since?: number;
}

export interface ThresholdOptions {
  entityId: string;
  label: string;
  band: Band;
  forMs: number;
}

export class ThresholdTrigger implements ActiveTrigger {
  readonly entityId: string;
  #state: ThresholdState = { armed: true };
  #last: StateValue | undefined;
  #timer?: TimerHandle;

  constructor(
    readonly options: ThresholdOptions,
    readonly env: TriggerEnv,
  ) {
    this.entityId = options.entityId;
  }

  async start(current: StateValue | undefined): Promise<void> {
    this.#state = (await this.env.load<ThresholdState>()) ?? { armed: true };
    if (this.#state.pending_since !== undefined && isNumber(current) && this.options.band.beyond(current)) {
      // a `for` that began before a restart: finish it at its original end
      this.#last = current;
      await this.#schedule();
    } else if (current !== undefined) {
      await this.onState(current);
    }
  }

  async onState(value: StateValue): Promise<void> {
    this.#last = value;
    const before = JSON.stringify(this.#state);
    const { band, forMs } = this.options;
    if (!isNumber(value)) {
      // unavailable (or not a number): never a crossing, but a `for` must see the value throughout
      this.#cancelPending();
    } else if (band.beyond(value)) {
      if (this.#state.armed && this.#state.pending_since === undefined) {
        if (forMs === 0) return this.#fire();
        this.#state.pending_since = this.env.clock.now();
        await this.#save(before);
        return this.#schedule();
      }
      // pending from before a restart that began without a known value: resume it now
      if (this.#state.armed && !this.#timer) return this.#schedule();
    } else {
      this.#cancelPending();
      if (!this.#state.armed && band.rearms(value)) this.#state.armed = true;
    }
    await this.#save(before);
  }

  onAvailability(available: boolean): Promise<void> | void {
    if (!available) return this.onState(null);
  }

  async #schedule(): Promise<void> {
    const due = this.#state.pending_since! + this.options.forMs;
    this.#timer?.cancel();
    if (due <= this.env.clock.now()) return this.#elapsed();
    this.#timer = this.env.clock.at(due, () => this.#elapsed());
  }

  async #elapsed(): Promise<void> {
    this.#timer = undefined;
    const last = this.#last;
    if (this.#state.pending_since === undefined || !isNumber(last) || !this.options.band.beyond(last)) return;
    await this.#fire();
  }

  async #fire(): Promise<void> {
    const { label, band, forMs } = this.options;
    this.#state = { armed: false };
    await this.env.save(this.#state);
    const held = forMs > 0 ? ` for ${formatDuration(forMs)}` : '';
    await this.env.fire({
      entity_id: this.entityId,
      value: this.#last ?? null,
      description: `${label} ${band.describe()}${held} (${this.#last})`,
    });
  }

  #cancelPending(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    delete this.#state.pending_since;
  }

  async #save(before: string): Promise<void> {
    if (JSON.stringify(this.#state) !== before) await this.env.save(this.#state);
  }

  stop(): void {
    this.#timer?.cancel();
  }
}
