// Supplemental light for laying hens: they keep laying through the winter when their day
// (natural daylight plus the lamp) lasts at least 14 hours. When the sun sinks below 3°
// in the evening (it re-arms above 5°, so the trigger fires once per dusk), the coop
// light comes on, unless today has already had 14 hours since sunrise; it goes off when
// sunrise + 14 h is reached, and at 22:00 at the latest, whoever turned it on.
//
// Sunrise and the sun's elevation are computed locally from the runtime's latitude and
// longitude (`--latitude`/`--longitude`), no network service. Today's sunrise is kept in
// the automation's store, so a restart during the day still knows it at dusk. When it is
// not known (the runtime started after sunrise) the lamp stays off that evening: without
// it the day's length cannot be told, and a summer evening needs no lamp.
// "Off" is sent unless the light is known to be off: an unavailable light (null) still
// gets it, so a lamp whose state was lost is not left burning all night.
import { type AutomationContext, defineAutomation } from '@sentinel/automations';

const LIGHT = 'Coop light';
/** the lamp comes on when the sun sinks below this elevation (degrees) … */
const DUSK_BELOW = 3;
/** … and that trigger re-arms only when it has risen past DUSK_BELOW + this */
const HYSTERESIS = 2;
/** the day the hens should have: sunrise to lamp off */
const MIN_DAY_MS = 14 * 3_600_000;
/** the lamp is off at this local time at the latest */
const LATEST_OFF = '22:00';
const TIME_ZONE = 'America/New_York';

const SUNRISE = 0;
const DUSK = 1;
const DAY_COMPLETE = 2;
const CURFEW = 3;

const hours = (ms: number) => `${(ms / 3_600_000).toFixed(1)} h`;

async function lightOff(ctx: AutomationContext, why: string): Promise<void> {
  if (ctx.state(LIGHT) === false) return;
  const reply = await ctx.command(LIGHT, false);
  ctx.log(`${why}: light off`, { ok: reply.ok });
}

async function dusk(ctx: AutomationContext): Promise<void> {
  const now = ctx.now();
  const sunrise = await ctx.store.get<number>('sunrise');
  if (sunrise === undefined || now - sunrise > 86_400_000) {
    ctx.log('today’s sunrise is not known (the runtime started after it): no light this evening');
    return;
  }
  const daylight = now - sunrise;
  if (daylight >= MIN_DAY_MS) {
    ctx.log(`the day has had ${hours(daylight)} of daylight already: no light`);
    return;
  }
  const reply = await ctx.command(LIGHT, true);
  ctx.log(`${hours(daylight)} of daylight: light on for ${hours(MIN_DAY_MS - daylight)}`, { ok: reply.ok });
}

export default defineAutomation({
  id: 'supplemental-light',
  description: 'tops the hens’ day up to 14 h of light after dusk, off by 22:00',
  mode: 'queued',
  triggers: [
    { kind: 'sun', event: 'sunrise' },
    { kind: 'sun_elevation', below: DUSK_BELOW, hysteresis: HYSTERESIS },
    { kind: 'sun', event: 'sunrise', offset: MIN_DAY_MS },
    { kind: 'time', at: LATEST_OFF, tz: TIME_ZONE },
  ],
  run: async (ctx) => {
    switch (ctx.trigger.index) {
      case SUNRISE:
        await ctx.store.set('sunrise', ctx.now());
        return;
      case DUSK:
        return dusk(ctx);
      case DAY_COMPLETE:
        return lightOff(ctx, `${hours(MIN_DAY_MS)} since sunrise`);
      case CURFEW:
        return lightOff(ctx, `${LATEST_OFF} (latest)`);
    }
  },
});
