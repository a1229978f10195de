// Rate of change: the least-squares slope (units per minute) of the readings inside a
// sliding window, by the readings' own timestamps. A gap (unavailable) empties the window,
// so a jump across an outage is never taken for a rate.
import type { StateValue } from '../../sdk/define.js';
import { type ActiveTrigger, type Band, isNumber, type TriggerEnv } from './types.js';

export interface DerivativeOptions {
  entityId: string;
  label: string;
  band: Band;
  windowMs: number;
}

/** a slope over less than this share of the window is noise, not a trend */
const MIN_SPAN_SHARE = 0.5;

export function slopePerMinute(samples: readonly (readonly [number, number])[]): number | undefined {
  if (samples.length < 2) return undefined;
  const n = samples.length;
  const meanT = samples.reduce((s, [t]) => s + t, 0) / n;
  const meanV = samples.reduce((s, [, v]) => s + v, 0) / n;
  let num = 0;
  let den = 0;
  for (const [t, v] of samples) {
    num += (t - meanT) * (v - meanV);
    den += (t - meanT) ** 2;
  }
  return den === 0 ? undefined : (num / den) * 60_000;
}

export class DerivativeTrigger implements ActiveTrigger {
  readonly entityId: string;
  #samples: [number, number][] = [];
  #armed = true;

  constructor(
    readonly options: DerivativeOptions,
    readonly env: TriggerEnv,
  ) {
    this.entityId = options.entityId;
  }

  async start(): Promise<void> {
    this.#armed = (await this.env.load<{ armed: boolean }>())?.armed ?? true;
  }

  async onState(value: StateValue, ts: number): Promise<void> {
    if (!isNumber(value)) {
      this.#samples = [];
      return;
    }
    const { windowMs, band, label } = this.options;
    const newest = this.#samples.at(-1);
    if (newest && ts <= newest[0]) return; // out of order or repeated: not a new point in time
    this.#samples.push([ts, value]);
    while (this.#samples.length > 0 && this.#samples[0]![0] < ts - windowMs) this.#samples.shift();
    if (ts - this.#samples[0]![0] < windowMs * MIN_SPAN_SHARE) return;
    const rate = slopePerMinute(this.#samples);
    if (rate === undefined) return;
    if (this.#armed && band.beyond(rate)) {
      this.#armed = false;
      await this.env.save({ armed: false });
      await this.env.fire({
        entity_id: this.entityId,
        value,
        rate,
        description: `${label} changing ${band.describe()}/min (${rate.toFixed(2)}/min)`,
      });
    } else if (!this.#armed && band.rearms(rate)) {
      this.#armed = true;
      await this.env.save({ armed: true });
    }
  }

  onAvailability(available: boolean): void {
    if (!available) this.#samples = [];
  }

  stop(): void {}
}
