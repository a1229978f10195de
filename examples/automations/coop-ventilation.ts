// The coop's ventilation loop. Damp litter makes ammonia, so the fan runs while the
// humidity is above 75 % and stops once it is below 70 % (hysteresis: between the two
// the fan keeps doing what it was doing). But a fan only helps when the air outside is
// drier: on a wet day it pulls damp air in. So every run is judged over a 10-minute
// window: humidity down by at least 2 points means it works and it keeps running; if
// not, the fan stops and waits before trying again, 10 minutes after the first
// ineffective attempt, then 20, 40, capped at an hour. A run that works resets that.
//
// An unavailable sensor is never a crossing and never starts the fan; a run whose
// window ends without a reading stops (it cannot be judged) without counting as an
// attempt. The loop's state (phase, attempts in a row, end of the cooldown) is in the
// automation's store in NATS KV, so a restart or a failover resumes it where it was.
import { type AutomationContext, defineAutomation } from '@sentinel/automations';

const HUMIDITY = 'Coop humidity';
const FAN = 'Coop fan';
/** the fan starts above this (%RH) … */
const HIGH = 75;
/** … and stops below this */
const LOW = 70;
/** how long a run is given to show it helps, and the drop (points of %RH) that shows it */
const WINDOW_MS = 10 * 60_000;
const MIN_DROP = 2;
/** the wait after the first ineffective attempt; it doubles with each one after, up to the cap */
const BASE_COOLDOWN_MS = 10 * 60_000;
const MAX_COOLDOWN_MS = 60 * 60_000;

type Loop =
  | { phase: 'idle'; attempts: number }
  /** the fan runs; the current window began at `since` with humidity `from` */
  | { phase: 'running'; attempts: number; since: number; from: number }
  /** the fan rests until `until` after `attempts` ineffective runs in a row */
  | { phase: 'cooldown'; attempts: number; until: number };

const KEY = 'loop';

/** the cooldown after `attempts` ineffective runs in a row (1 → the base) */
const cooldownAfter = (attempts: number) => Math.min(BASE_COOLDOWN_MS * 2 ** (attempts - 1), MAX_COOLDOWN_MS);

const minutes = (ms: number) => `${Math.round(ms / 60_000)}m`;

async function step(ctx: AutomationContext, loop: Loop): Promise<Loop> {
  const reading = ctx.state(HUMIDITY);
  const humidity = typeof reading === 'number' ? reading : null;
  const now = ctx.now();
  if (loop.phase === 'running') {
    if (humidity !== null && humidity < LOW) {
      await ctx.command(FAN, false);
      ctx.log(`dry enough (${humidity} %): fan off`);
      return { phase: 'idle', attempts: 0 };
    }
    if (now < loop.since + WINDOW_MS) return loop;
    if (humidity === null) {
      await ctx.command(FAN, false);
      ctx.log('humidity unavailable at the end of the window: fan off, not counted as an attempt');
      return { phase: 'idle', attempts: loop.attempts };
    }
    const drop = loop.from - humidity;
    if (drop >= MIN_DROP) {
      ctx.log(`effective: ${loop.from} → ${humidity} % in ${minutes(WINDOW_MS)}; keeps running`);
      return { phase: 'running', attempts: 0, since: now, from: humidity };
    }
    await ctx.command(FAN, false);
    const attempts = loop.attempts + 1;
    const cooldown = cooldownAfter(attempts);
    ctx.log(`ineffective: ${loop.from} → ${humidity} %; fan off for ${minutes(cooldown)}`, { attempts });
    return { phase: 'cooldown', attempts, until: now + cooldown };
  }
  if (loop.phase === 'cooldown') {
    if (now < loop.until) return loop;
    loop = { phase: 'idle', attempts: loop.attempts };
  }
  if (humidity === null || humidity <= HIGH) return loop;
  const reply = await ctx.command(FAN, true);
  // a fan that did not obey is not running: the next tick tries again
  if (!reply.ok) return loop;
  ctx.log(`humid (${humidity} %): fan on`, { attempts: loop.attempts });
  return { phase: 'running', attempts: loop.attempts, since: now, from: humidity };
}

export default defineAutomation({
  id: 'coop-ventilation',
  description: 'runs the coop fan while humid, backs off (doubling) when running it does not help',
  // one step at a time: each reads the loop's state, acts, and writes it back
  mode: 'queued',
  triggers: [
    // react at once to the readings that cross the bounds …
    { kind: 'threshold', entity: HUMIDITY, above: HIGH, hysteresis: HIGH - LOW },
    { kind: 'threshold', entity: HUMIDITY, below: LOW, hysteresis: HIGH - LOW },
    // … and look each minute for a window or a cooldown that has ended (a durable
    // schedule: ctx.sleep would not survive a restart)
    { kind: 'cron', expression: '* * * * *' },
  ],
  run: async (ctx) => {
    const loop = (await ctx.store.get<Loop>(KEY)) ?? { phase: 'idle', attempts: 0 };
    const next = await step(ctx, loop);
    if (JSON.stringify(next) !== JSON.stringify(loop)) await ctx.store.set(KEY, next);
  },
});
