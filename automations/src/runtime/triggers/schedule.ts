// Triggers driven by the clock: time of day, cron, sunrise/sunset, sun elevation. Each
// schedules only its next occurrence; after a clock jump forward it skips what was
// missed rather than firing a burst, and computes the next from the new time.
import { CronExpressionParser } from 'cron-parser';
import type { TimerHandle } from '../../clock.js';
import { nextSunEvent, sunElevation } from '../../sun.js';
import type { ActiveTrigger, Band, Firing, TriggerEnv } from './types.js';

/** Fires at each time `next(after)` returns, for as long as it returns one. */
export class ScheduleTrigger implements ActiveTrigger {
  #timer?: TimerHandle;
  #stopped = false;

  constructor(
    readonly next: (after: number) => number | null,
    readonly firing: (at: number) => Firing,
    readonly env: TriggerEnv,
  ) {}

  async start(): Promise<void> {
    this.#arm(this.env.clock.now());
  }

  #arm(after: number): void {
    if (this.#stopped) return;
    const at = this.next(after);
    if (at === null) return;
    this.#timer = this.env.clock.at(at, async () => {
      this.#arm(Math.max(at, this.env.clock.now()));
      await this.env.fire(this.firing(at));
    });
  }

  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
  }
}

/** the next time after `after` a cron expression matches (throws on a bad expression, at load) */
export function cronNext(expression: string, tz?: string): (after: number) => number {
  CronExpressionParser.parse(expression, tz ? { tz } : {}); // validate now, not at the first firing
  return (after) =>
    CronExpressionParser.parse(expression, { currentDate: new Date(after), ...(tz ? { tz } : {}) })
      .next()
      .getTime();
}

/** "07:30" or "07:30:15" as a cron expression with seconds */
export function timeOfDayCron(at: string): string {
  const [h, m, s = '0'] = at.split(':');
  return `${Number(s)} ${Number(m)} ${Number(h)} * * *`;
}

export function sunNext(
  event: 'sunrise' | 'sunset',
  offsetMs: number,
  location: { latitude: number; longitude: number },
): (after: number) => number | null {
  return (after) => {
    const t = nextSunEvent(event, after - offsetMs, location.latitude, location.longitude);
    return t === null ? null : t + offsetMs;
  };
}

const MINUTE = 60_000;

/** Sun elevation sampled each minute; fires on a crossing, re-arms past the hysteresis band. */
export class SunElevationTrigger implements ActiveTrigger {
  #timer?: TimerHandle;
  #armed = true;
  #stopped = false;

  constructor(
    readonly band: Band,
    readonly location: { latitude: number; longitude: number },
    readonly env: TriggerEnv,
  ) {}

  async start(): Promise<void> {
    // where the sun stands at start is not a crossing
    const now = this.env.clock.now();
    this.#armed = !this.band.beyond(this.#elevation(now));
    this.#arm(now);
  }

  #elevation(at: number): number {
    return sunElevation(at, this.location.latitude, this.location.longitude);
  }

  #arm(after: number): void {
    if (this.#stopped) return;
    const at = (Math.floor(after / MINUTE) + 1) * MINUTE;
    this.#timer = this.env.clock.at(at, async () => {
      this.#arm(Math.max(at, this.env.clock.now()));
      const elevation = this.#elevation(at);
      if (this.#armed && this.band.beyond(elevation)) {
        this.#armed = false;
        await this.env.fire({
          value: elevation,
          description: `sun elevation ${this.band.describe()}° (${elevation.toFixed(2)}°)`,
        });
      } else if (!this.#armed && this.band.rearms(elevation)) this.#armed = true;
    });
  }

  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
  }
}
