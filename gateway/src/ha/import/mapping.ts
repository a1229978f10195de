// Home Assistant domains → our platforms, as data: how an HA state becomes a
// reading of ours, and how a `sentinel.cmd` request becomes a call_service with
// the test that tells its effect was confirmed. Attributes are parsed with zod per
// domain: Home Assistant is another program, and an odd attribute is counted and
// skipped rather than trusted.
import type { EntityDescription, Platform, ReadingValue } from '@sentinel/firmware';
import { z } from 'zod';
import type { CommandRequest } from '../../model/commands.js';

/** An HA entity state as home-assistant-js-websocket hands it over. */
export interface HaState {
  entity_id: string;
  state: string;
  attributes: Record<string, unknown>;
  last_changed: string;
  last_updated: string;
}

export type ReadResult =
  | { ok: true; value: ReadingValue }
  /** a state with nothing to publish (moving, unknown, a button) */
  | { ok: true; value: undefined }
  | { ok: false; reason: 'bad_state' | 'bad_attributes'; message: string };

export interface ServiceCall {
  service: string;
  data?: Record<string, unknown>;
  /** whether `next` shows the call took effect (`before`: the state when it was sent) */
  confirmed(next: HaState, before: HaState): boolean;
}

export type CommandResult =
  | { ok: true; call: ServiceCall }
  | { ok: false; code: 'invalid' | 'not_supported'; message: string };

interface DomainMapping {
  platform: Platform;
  /** attributes the value or the description needs; a failure skips the state */
  attributes: z.ZodType<Record<string, unknown>>;
  read(state: string, attributes: Record<string, unknown>): ReadResult;
  describe?(attributes: Record<string, unknown>): Partial<EntityDescription>;
  command?(request: CommandRequest): CommandResult;
}

const str = z.string().min(1).max(64);
/** attributes every entity may carry; a wrong type is as odd as a missing required one */
const common = z.looseObject({
  friendly_name: z.string().optional(),
  device_class: str.optional(),
  unit_of_measurement: str.optional(),
  state_class: z.enum(['measurement', 'total', 'total_increasing']).optional(),
});
const value = (v: ReadingValue): ReadResult => ({ ok: true, value: v });
const nothing: ReadResult = { ok: true, value: undefined };
const badState = (state: string, expected: string): ReadResult => ({
  ok: false,
  reason: 'bad_state',
  message: `state "${state}" is not ${expected}`,
});
const call = (
  service: string,
  confirmed: ServiceCall['confirmed'],
  data?: Record<string, unknown>,
): CommandResult => ({
  ok: true,
  call: { service, confirmed, ...(data ? { data } : {}) },
});
const invalid = (message: string): CommandResult => ({ ok: false, code: 'invalid', message });
const isState = (state: string) => (next: HaState) => next.state === state;
const changed = (next: HaState, before: HaState) =>
  next.state !== before.state || next.last_changed !== before.last_changed;

function onOffRead(state: string): ReadResult {
  if (state === 'on' || state === 'off') return value(state === 'on');
  return badState(state, 'on or off');
}

function onOffCommand(request: CommandRequest): CommandResult {
  if (request.action === 'toggle') return call('toggle', (next, before) => next.state !== before.state);
  if (typeof request.value === 'boolean')
    return request.value ? call('turn_on', isState('on')) : call('turn_off', isState('off'));
  return invalid('takes true, false or the action toggle');
}

const onOff = (platform: Platform): DomainMapping => ({
  platform,
  attributes: common,
  read: onOffRead,
  command: onOffCommand,
});

const finite = z.number().finite();

const light: DomainMapping = {
  ...onOff('light'),
  command(request) {
    if (typeof request.value === 'object' && request.value !== null) {
      // {brightness, brightness_pct, color_temp_kelvin, transition, …}: light.turn_on's own fields
      const data = { ...(request.value as Record<string, unknown>) };
      if (data.on === false) return call('turn_off', isState('off'));
      delete data.on;
      return call('turn_on', isState('on'), data);
    }
    return onOffCommand(request);
  },
};

const fan: DomainMapping = {
  ...onOff('fan'),
  command(request) {
    if (typeof request.value === 'number') {
      const percentage = request.value;
      return call(
        'set_percentage',
        (next) => (percentage === 0 ? next.state === 'off' : next.attributes.percentage === percentage),
        { percentage },
      );
    }
    return onOffCommand(request);
  },
};

const LOCK_STATES: Record<string, boolean | undefined> = {
  locked: true,
  unlocked: false,
  open: false,
  // on the way, or stuck: nothing settled to publish
  locking: undefined,
  unlocking: undefined,
  opening: undefined,
  jammed: undefined,
};

const lock: DomainMapping = {
  platform: 'lock',
  attributes: common,
  read(state) {
    if (!Object.hasOwn(LOCK_STATES, state)) return badState(state, 'a lock state');
    const locked = LOCK_STATES[state];
    return locked === undefined ? nothing : value(locked);
  },
  command(request) {
    const action =
      request.action ?? (request.value === true ? 'lock' : request.value === false ? 'unlock' : undefined);
    if (action === 'lock') return call('lock', isState('locked'));
    if (action === 'unlock') return call('unlock', isState('unlocked'));
    if (action === 'open') return call('open', isState('open'));
    return invalid('takes true, false or the actions lock, unlock, open');
  },
};

const cover: DomainMapping = {
  platform: 'cover',
  attributes: common.extend({ current_position: z.number().min(0).max(100).optional() }),
  read(state, attributes) {
    const position = attributes.current_position as number | undefined;
    if (['opening', 'closing'].includes(state)) return nothing;
    if (position !== undefined) return value(position);
    if (state === 'open' || state === 'closed') return value(state === 'open' ? 100 : 0);
    return badState(state, 'open, closed, opening or closing');
  },
  command(request) {
    if (request.action === 'open') return call('open_cover', isState('open'));
    if (request.action === 'close') return call('close_cover', isState('closed'));
    // a stop is confirmed by Home Assistant's result alone: a cover at rest does not change
    if (request.action === 'stop') return call('stop_cover', () => true);
    if (typeof request.value === 'number') {
      const position = request.value;
      return call('set_cover_position', (next) => next.attributes.current_position === position, {
        position,
      });
    }
    return invalid('takes a position or the actions open, close, stop');
  },
};

const climate: DomainMapping = {
  platform: 'climate',
  // our climate value is the target temperature: without one there is nothing to show
  attributes: common.extend({
    temperature: finite,
    min_temp: finite.optional(),
    max_temp: finite.optional(),
    target_temp_step: finite.positive().optional(),
  }),
  read: (_state, attributes) => value(attributes.temperature as number),
  describe: (a) => ({
    min: a.min_temp as number | undefined,
    max: a.max_temp as number | undefined,
    step: a.target_temp_step as number | undefined,
  }),
  command(request) {
    const fields =
      typeof request.value === 'number'
        ? { temperature: request.value }
        : typeof request.value === 'object' && request.value !== null
          ? (request.value as Record<string, unknown>)
          : undefined;
    if (!fields) return invalid('takes a temperature or {temperature, hvac_mode}');
    return call(
      'set_temperature',
      (next) =>
        (fields.temperature === undefined || next.attributes.temperature === fields.temperature) &&
        (fields.hvac_mode === undefined || next.state === fields.hvac_mode),
      fields,
    );
  },
};

const number: DomainMapping = {
  platform: 'number',
  attributes: common.extend({
    min: finite.optional(),
    max: finite.optional(),
    step: finite.positive().optional(),
  }),
  read(state) {
    const n = Number(state);
    return state.trim() !== '' && Number.isFinite(n) ? value(n) : badState(state, 'a number');
  },
  describe: (a) => ({
    min: a.min as number | undefined,
    max: a.max as number | undefined,
    step: a.step as number | undefined,
  }),
  command(request) {
    if (typeof request.value !== 'number') return invalid('takes a number');
    const target = request.value;
    return call('set_value', (next) => Number(next.state) === target, { value: target });
  },
};

const button: DomainMapping = {
  platform: 'button',
  attributes: common,
  // a button's state is the time of its last press, not a reading
  read: () => nothing,
  command: (request) =>
    request.action === 'press' ? call('press', changed) : invalid('takes the action press'),
};

const select: DomainMapping = {
  platform: 'select',
  attributes: common.extend({ options: z.array(z.string().min(1).max(64)).max(64) }),
  read: (state) => value(state),
  describe: (a) => ({ options: a.options as string[] }),
  command(request) {
    if (typeof request.value !== 'string') return invalid('takes one of its options');
    const option = request.value;
    return call('select_option', isState(option), { option });
  },
};

const text: DomainMapping = {
  platform: 'text',
  attributes: common,
  read: (state) => value(state),
  command(request) {
    if (typeof request.value !== 'string') return invalid('takes a text');
    const target = request.value;
    return call('set_value', isState(target), { value: target });
  },
};

const sensor: DomainMapping = {
  platform: 'sensor',
  attributes: common,
  read(state, attributes) {
    // numeric when Home Assistant says it measures something; text otherwise (an enum, a date)
    const measured = attributes.unit_of_measurement !== undefined || attributes.state_class !== undefined;
    const n = Number(state);
    if (measured) return state.trim() !== '' && Number.isFinite(n) ? value(n) : badState(state, 'a number');
    return value(state);
  },
};

const binarySensor: DomainMapping = { platform: 'binary_sensor', attributes: common, read: onOffRead };

/** The domains we import; any other (sun, person, automation, weather, …) is counted as unknown_domain. */
export const HA_DOMAINS: Readonly<Record<string, DomainMapping>> = {
  switch: onOff('switch'),
  input_boolean: onOff('switch'),
  light,
  fan,
  lock,
  cover,
  climate,
  number,
  input_number: number,
  button,
  input_button: button,
  select,
  input_select: select,
  text,
  input_text: text,
  sensor,
  binary_sensor: binarySensor,
};

export const domainOf = (entityId: string): string => entityId.split('.')[0] ?? '';

export type Parsed =
  | { ok: true; description: EntityDescription; read: ReadResult }
  | { ok: false; reason: 'unknown_domain' | 'bad_attributes'; message: string };

/** The description of an HA entity in our model (key: its domain) and its current reading. */
export function parseHaState(ha: HaState): Parsed {
  const domain = domainOf(ha.entity_id);
  const mapping = HA_DOMAINS[domain];
  if (!mapping)
    return { ok: false, reason: 'unknown_domain', message: `no mapping for the ${domain} domain` };
  const attributes = mapping.attributes.safeParse(ha.attributes ?? {});
  if (!attributes.success) {
    const issue = attributes.error.issues[0]!;
    return {
      ok: false,
      reason: 'bad_attributes',
      message: `attribute ${issue.path.join('.') || '(all)'}: ${issue.message}`,
    };
  }
  const a = attributes.data;
  const description: EntityDescription = {
    key: domain,
    platform: mapping.platform,
    name: (typeof a.friendly_name === 'string' && a.friendly_name.slice(0, 64)) || ha.entity_id.slice(0, 64),
  };
  if (mapping.platform === 'sensor' || mapping.platform === 'number') {
    if (typeof a.unit_of_measurement === 'string') description.unit = a.unit_of_measurement;
    if (typeof a.state_class === 'string')
      description.state_class = a.state_class as EntityDescription['state_class'];
  }
  if (typeof a.device_class === 'string') description.device_class = a.device_class;
  for (const [key, v] of Object.entries(mapping.describe?.(a) ?? {})) {
    if (v !== undefined) (description as Record<string, unknown>)[key] = v;
  }
  return { ok: true, description, read: mapping.read(ha.state, a) };
}

export function haServiceCall(entityId: string, request: CommandRequest): CommandResult {
  const mapping = HA_DOMAINS[domainOf(entityId)];
  if (!mapping?.command)
    return { ok: false, code: 'not_supported', message: `${entityId} takes no commands` };
  return mapping.command(request);
}
