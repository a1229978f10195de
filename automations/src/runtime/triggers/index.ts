// Turns a validated trigger into its evaluator, resolving entity names first so an
// unknown entity fails the automation at load with a specific reason.
import type { EntityHandle } from '../../sdk/define.js';
import type { Trigger } from '../../sdk/triggers.js';
import { DerivativeTrigger } from './derivative.js';
import { AvailabilityTrigger, StateChangeTrigger } from './entity-change.js';
import { cronNext, ScheduleTrigger, SunElevationTrigger, sunNext, timeOfDayCron } from './schedule.js';
import { ThresholdTrigger } from './threshold.js';
import { type ActiveTrigger, Band, type TriggerEnv } from './types.js';

export type { ActiveTrigger, TriggerEnv } from './types.js';

function needLocation(env: TriggerEnv) {
  if (!env.location) throw new Error('sun triggers need the runtime started with a latitude and longitude');
  return env.location;
}

export function createTrigger(
  trigger: Trigger,
  resolve: (ref: string) => EntityHandle,
  env: TriggerEnv,
): ActiveTrigger {
  switch (trigger.kind) {
    case 'state': {
      const e = resolve(trigger.entity);
      return new StateChangeTrigger(e.id, e.name, { from: trigger.from, to: trigger.to }, env);
    }
    case 'threshold': {
      const e = resolve(trigger.entity);
      const band = new Band(trigger.above, trigger.below, trigger.hysteresis);
      return new ThresholdTrigger({ entityId: e.id, label: e.name, band, forMs: trigger.for }, env);
    }
    case 'derivative': {
      const e = resolve(trigger.entity);
      const band = new Band(trigger.above, trigger.below, trigger.hysteresis);
      return new DerivativeTrigger({ entityId: e.id, label: e.name, band, windowMs: trigger.window }, env);
    }
    case 'availability': {
      const e = resolve(trigger.entity);
      return new AvailabilityTrigger(e.id, e.name, trigger.to, env);
    }
    case 'time': {
      const next = cronNext(timeOfDayCron(trigger.at), trigger.tz);
      return new ScheduleTrigger(next, () => ({ description: `time is ${trigger.at}` }), env);
    }
    case 'cron': {
      const next = cronNext(trigger.expression, trigger.tz);
      return new ScheduleTrigger(next, () => ({ description: `cron ${trigger.expression}` }), env);
    }
    case 'sun': {
      const next = sunNext(trigger.event, trigger.offset, needLocation(env));
      const shift =
        trigger.offset === 0 ? '' : ` ${trigger.offset > 0 ? '+' : ''}${trigger.offset / 60_000}min`;
      return new ScheduleTrigger(next, () => ({ description: `${trigger.event}${shift}` }), env);
    }
    case 'sun_elevation': {
      const band = new Band(trigger.above, trigger.below, trigger.hysteresis);
      return new SunElevationTrigger(band, needLocation(env), env);
    }
  }
}
