// State-change and availability triggers: they compare each reading with the one before.
import type { StateValue } from '../../sdk/define.js';
import type { ActiveTrigger, TriggerEnv } from './types.js';

const UNSET = Symbol('unset');

export class StateChangeTrigger implements ActiveTrigger {
  #last: StateValue | typeof UNSET = UNSET;

  constructor(
    readonly entityId: string,
    readonly label: string,
    readonly match: { from?: StateValue; to?: StateValue },
    readonly env: TriggerEnv,
  ) {}

  async start(current: StateValue | undefined): Promise<void> {
    if (current !== undefined) this.#last = current;
  }

  onState(value: StateValue): Promise<void> | void {
    const previous = this.#last;
    this.#last = value;
    if (previous === value) return;
    if (this.match.from !== undefined && previous !== this.match.from) return;
    if (this.match.to !== undefined && value !== this.match.to) return;
    const from = previous === UNSET ? 'unknown' : String(previous);
    return this.env.fire({
      entity_id: this.entityId,
      value,
      description: `${this.label} changed from ${from} to ${value}`,
    });
  }

  stop(): void {}
}

/** Available means: the gateway says so and the last reading was not null. */
export class AvailabilityTrigger implements ActiveTrigger {
  #available: boolean | undefined;

  constructor(
    readonly entityId: string,
    readonly label: string,
    readonly to: 'available' | 'unavailable' | undefined,
    readonly env: TriggerEnv,
  ) {}

  async start(current: StateValue | undefined): Promise<void> {
    if (current !== undefined) this.#available = current !== null;
  }

  onState(value: StateValue): Promise<void> | void {
    return this.onAvailability(value !== null);
  }

  onAvailability(available: boolean): Promise<void> | void {
    const previous = this.#available;
    this.#available = available;
    if (previous === undefined || previous === available) return;
    const now = available ? 'available' : 'unavailable';
    if (this.to !== undefined && this.to !== now) return;
    return this.env.fire({ entity_id: this.entityId, description: `${this.label} became ${now}` });
  }

  stop(): void {}
}
