// The smoker's water pan: while it holds water, evaporation holds the chamber steady;
// once it runs dry the chamber climbs. A climb faster than 2 °C per minute over five
// minutes, while cooking (100 °C or more), means "refill the water pan". It warns once,
// and again only after the climb has slowed below 1 °C/min (hysteresis), so a steady
// climb does not repeat the warning every minute. An unavailable probe never counts as
// a climb: the runtime empties the window, and a jump across the outage is not a rate.
import { defineAutomation } from '@sentinel/automations';

/** below this the smoker is preheating, where a fast climb is expected */
const COOKING_C = 100;

export default defineAutomation({
  id: 'smoker-water-pan',
  description: 'warns when the chamber climbs fast while cooking: the water pan is dry',
  mode: 'single',
  triggers: [{ kind: 'derivative', entity: 'Smoker chamber', window: '5m', above: 2, hysteresis: 1 }],
  conditions: [
    {
      name: 'cooking',
      check: (ctx) => {
        const chamber = ctx.state('Smoker chamber');
        return typeof chamber === 'number' && chamber >= COOKING_C;
      },
    },
  ],
  run: (ctx) =>
    ctx.notify('phone', {
      title: 'Refill the water pan',
      message: `The smoker chamber is climbing ${ctx.trigger.rate?.toFixed(1)} °C/min (${ctx.trigger.value} °C).`,
      severity: 'warning',
      tag: 'smoker-water-pan',
      actions: [{ id: 'refilled', title: 'Refilled' }],
    }),
});
