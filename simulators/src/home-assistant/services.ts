// What the simulated Home Assistant's entities do when a service is called: one
// table per domain, service → the new state and attributes, in the shape of Home
// Assistant's own entity platforms (turn_on/turn_off/toggle, open_cover, lock, …).
// A handler throws ServiceError for what Home Assistant refuses.
import { HA_ERROR, type HaErrorCode } from './protocol.js';

export interface SimEntityState {
  state: string;
  attributes: Record<string, unknown>;
}

export class ServiceError extends Error {
  override name = 'ServiceError';
  constructor(
    readonly code: HaErrorCode,
    message: string,
  ) {
    super(message);
  }
}

type Handler = (entity: SimEntityState, data: Record<string, unknown>) => SimEntityState;
type Domain = Record<string, Handler>;

const set = (entity: SimEntityState, state: string, attributes: Record<string, unknown> = {}) => ({
  state,
  attributes: { ...entity.attributes, ...attributes },
});

function numberField(data: Record<string, unknown>, key: string): number {
  const value = data[key];
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isFinite(number)) {
    // voluptuous' message for a field of the wrong type
    throw new ServiceError(HA_ERROR.invalidFormat, `expected float for dictionary value @ data['${key}']`);
  }
  return number;
}

function stringField(data: Record<string, unknown>, key: string): string {
  const value = data[key];
  if (typeof value !== 'string') {
    throw new ServiceError(HA_ERROR.invalidFormat, `expected str for dictionary value @ data['${key}']`);
  }
  return value;
}

/** switch, input_boolean: on and off only */
const onOff: Domain = {
  turn_on: (e) => set(e, 'on'),
  turn_off: (e) => set(e, 'off'),
  toggle: (e) => set(e, e.state === 'on' ? 'off' : 'on'),
};

const light: Domain = {
  turn_on: (e, data) => {
    const brightness =
      data.brightness !== undefined
        ? numberField(data, 'brightness')
        : data.brightness_pct !== undefined
          ? Math.round((numberField(data, 'brightness_pct') * 255) / 100)
          : (e.attributes.brightness ?? 255);
    return set(e, 'on', { brightness });
  },
  turn_off: (e) => set(e, 'off', { brightness: null }),
  toggle: (e) => (e.state === 'on' ? set(e, 'off', { brightness: null }) : set(e, 'on', { brightness: 255 })),
};

const fan: Domain = {
  turn_on: (e, data) =>
    set(e, 'on', { percentage: data.percentage !== undefined ? numberField(data, 'percentage') : 100 }),
  turn_off: (e) => set(e, 'off', { percentage: 0 }),
  toggle: (e) => (e.state === 'on' ? set(e, 'off', { percentage: 0 }) : set(e, 'on', { percentage: 100 })),
  set_percentage: (e, data) => {
    const percentage = numberField(data, 'percentage');
    return set(e, percentage > 0 ? 'on' : 'off', { percentage });
  },
};

const cover: Domain = {
  open_cover: (e) => set(e, 'open', { current_position: 100 }),
  close_cover: (e) => set(e, 'closed', { current_position: 0 }),
  // the simulated cover moves instantly, so there is never anything to stop
  stop_cover: (e) => e,
  set_cover_position: (e, data) => {
    const position = numberField(data, 'position');
    if (position < 0 || position > 100) {
      throw new ServiceError(
        HA_ERROR.invalidFormat,
        `value must be at most 100 for dictionary value @ data['position']`,
      );
    }
    return set(e, position > 0 ? 'open' : 'closed', { current_position: position });
  },
};

const lock: Domain = {
  lock: (e) => set(e, 'locked'),
  unlock: (e) => set(e, 'unlocked'),
  open: (e) => set(e, 'open'),
};

const climate: Domain = {
  set_temperature: (e, data) => {
    const temperature = numberField(data, 'temperature');
    const min = typeof e.attributes.min_temp === 'number' ? e.attributes.min_temp : 7;
    const max = typeof e.attributes.max_temp === 'number' ? e.attributes.max_temp : 35;
    if (temperature < min || temperature > max) {
      throw new ServiceError(
        HA_ERROR.serviceValidationError,
        `Provided temperature ${temperature} is not valid. Accepted range is ${min} to ${max}.`,
      );
    }
    const mode = data.hvac_mode !== undefined ? stringField(data, 'hvac_mode') : e.state;
    return set(e, mode, { temperature });
  },
  set_hvac_mode: (e, data) => set(e, stringField(data, 'hvac_mode')),
  turn_on: (e) => set(e, e.state === 'off' ? 'heat' : e.state),
  turn_off: (e) => set(e, 'off'),
};

const number: Domain = {
  set_value: (e, data) => {
    const value = numberField(data, 'value');
    const min = typeof e.attributes.min === 'number' ? e.attributes.min : 0;
    const max = typeof e.attributes.max === 'number' ? e.attributes.max : 100;
    if (value < min || value > max) {
      throw new ServiceError(
        HA_ERROR.serviceValidationError,
        `Value ${value} is outside valid range ${min} - ${max}`,
      );
    }
    return set(e, String(value));
  },
};

const button: Domain = { press: (e) => set(e, new Date().toISOString()) };

const select: Domain = {
  select_option: (e, data) => {
    const option = stringField(data, 'option');
    const options = Array.isArray(e.attributes.options) ? e.attributes.options : [];
    if (!options.includes(option)) {
      throw new ServiceError(HA_ERROR.serviceValidationError, `Option ${option} is not valid`);
    }
    return set(e, option);
  },
};

const text: Domain = { set_value: (e, data) => set(e, stringField(data, 'value')) };

/** domain → service → handler; a domain or service missing here answers `not_found`, as Home Assistant does */
export const SERVICES: Readonly<Record<string, Domain>> = {
  switch: onOff,
  input_boolean: onOff,
  light,
  fan,
  cover,
  lock,
  climate,
  number,
  input_number: number,
  button,
  input_button: button,
  select,
  input_select: select,
  text,
  input_text: text,
};
