// What a simulated picket measures and controls. A device is a list of entities
// built from reusable blocks (temperatureSensor(), relaySwitch(), …); adding a
// sensor means adding a block, not touching the device or its transports.
import type { Command, EntityDescription, ReadingValue } from '@sentinel/firmware';
import type { Clock } from '../clock.js';
import { gaussian, type Random } from '../random.js';

/** The answer to a command, before the cid is attached. */
export type CommandOutcome = { ok: true } | { ok: false; error: string };

export interface SimulatedEntity {
  /** how the entity is announced in hello */
  readonly description: EntityDescription;
  /** the current value; sensors advance their physical model to `now` */
  read(now: number): ReadingValue;
  /** applies a command; read-only entities leave this out */
  command?(command: Command): CommandOutcome;
}

/** What every sensor model needs: randomness and time (both injectable). */
export interface EntityContext {
  random: Random;
  clock: Clock;
}

export interface DriftOptions {
  /** the value the reading keeps returning to */
  mean: number;
  /** typical distance from the mean (stationary standard deviation) */
  spread: number;
  /** how fast it returns to the mean: the time constant in seconds */
  relaxSeconds: number;
  /** reading resolution (0.1 → one decimal) */
  resolution: number;
  min?: number;
  max?: number;
}

/**
 * A slowly drifting physical quantity: an Ornstein–Uhlenbeck process, which is a
 * random walk pulled back towards its mean. The step depends on elapsed time, not
 * on how often it is read, so a 1 s and a 60 s interval show the same weather.
 */
export function drift(options: DriftOptions, { random, clock }: EntityContext): (now: number) => number {
  const { mean, spread, relaxSeconds, resolution, min = -Infinity, max = Infinity } = options;
  const theta = 1 / relaxSeconds;
  // chosen so that the long-run standard deviation equals `spread`
  const sigma = spread * Math.sqrt(2 * theta);
  let value = mean + spread * gaussian(random) * 0.5;
  let last = clock.now();
  const decimals = Math.max(0, -Math.floor(Math.log10(resolution)));
  return (now) => {
    const dt = Math.max(0, now - last) / 1000;
    last = Math.max(last, now);
    if (dt > 0) {
      // exact discretisation, stable for any dt (a plain Euler step overshoots for dt ≫ relaxSeconds)
      const decay = Math.exp(-theta * dt);
      const sd = sigma * Math.sqrt((1 - decay * decay) / (2 * theta));
      value = mean + (value - mean) * decay + sd * gaussian(random);
    }
    const clamped = Math.min(max, Math.max(min, value));
    // toFixed then Number: 21.400000000000002 would otherwise reach the wire
    return Number((Math.round(clamped / resolution) * resolution).toFixed(decimals));
  };
}

export function temperatureSensor(context: EntityContext, key = 'temperature'): SimulatedEntity {
  const next = drift(
    { mean: 21, spread: 0.5, relaxSeconds: 3600, resolution: 0.1, min: -40, max: 85 },
    context,
  );
  return {
    description: {
      key,
      platform: 'sensor',
      device_class: 'temperature',
      unit: '°C',
      state_class: 'measurement',
    },
    read: next,
  };
}

export function humiditySensor(context: EntityContext, key = 'humidity'): SimulatedEntity {
  const next = drift({ mean: 45, spread: 3, relaxSeconds: 3600, resolution: 0.1, min: 0, max: 100 }, context);
  return {
    description: { key, platform: 'sensor', device_class: 'humidity', unit: '%', state_class: 'measurement' },
    read: next,
  };
}

/** A relay: `value` true/false, or `action` turn_on / turn_off / toggle. */
export function relaySwitch(key = 'relay', initial = false): SimulatedEntity {
  let on = initial;
  return {
    description: { key, platform: 'switch' },
    read: () => on,
    command(command) {
      if (command.action !== undefined) {
        switch (command.action) {
          case 'turn_on':
            on = true;
            return { ok: true };
          case 'turn_off':
            on = false;
            return { ok: true };
          case 'toggle':
            on = !on;
            return { ok: true };
          default:
            return { ok: false, error: `unsupported action "${command.action}" for ${key}` };
        }
      }
      if (typeof command.value !== 'boolean') {
        return { ok: false, error: `${key} expects value true or false` };
      }
      on = command.value;
      return { ok: true };
    },
  };
}

/** The standard simulated picket: temperature, humidity and a relay. */
export function defaultPicketEntities(context: EntityContext): SimulatedEntity[] {
  return [temperatureSensor(context), humiditySensor(context), relaySwitch()];
}

/** Routes a command to its entity; unknown keys and read-only entities are refused. */
export function applyCommand(entities: readonly SimulatedEntity[], command: Command): CommandOutcome {
  const entity = entities.find((e) => e.description.key === command.key);
  if (!entity) return { ok: false, error: `unknown key "${command.key}"` };
  if (!entity.command) return { ok: false, error: `${command.key} is read-only` };
  return entity.command(command);
}

/** One reading of every entity, as the `values` of a state message. */
export function readAll(entities: readonly SimulatedEntity[], now: number): Record<string, ReadingValue> {
  return Object.fromEntries(entities.map((e) => [e.description.key, e.read(now)]));
}
