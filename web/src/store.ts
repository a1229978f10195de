// The one store the app renders from: the live feed's messages folded into plain
// records (Home Assistant's `hass` object). `apply` is pure; `createStore` adds subscribers.

import type { Device, Entity, EntityWithState, LiveMessage, StateMessage } from './types.js';

export type Connection = 'connecting' | 'live' | 'reconnecting';

export interface Availability {
  available: boolean;
  ts: number;
}

export interface LiveState {
  /** false until the first snapshot arrived */
  loaded: boolean;
  connection: Connection;
  entities: Readonly<Record<string, Entity>>;
  states: Readonly<Record<string, StateMessage>>;
  /** per entity, the latest availability message (overrides the device's `online`) */
  availability: Readonly<Record<string, Availability>>;
  devices: Readonly<Record<string, Device>>;
  /** per entity, the usual time between readings (ms), learnt from the readings seen */
  intervals: Readonly<Record<string, number>>;
}

export const initialState: LiveState = {
  loaded: false,
  connection: 'connecting',
  entities: {},
  states: {},
  availability: {},
  devices: {},
  intervals: {},
};

function without<T>(record: Readonly<Record<string, T>>, key: string): Record<string, T> {
  const { [key]: _removed, ...rest } = record;
  return rest;
}

function splitEntity(input: EntityWithState): { entity: Entity; state: StateMessage | null | undefined } {
  const { state, ...entity } = input;
  return { entity, state };
}

/** How much a new gap between readings moves the learnt interval. */
const INTERVAL_WEIGHT = 0.3;

export function learnInterval(previous: number | undefined, gap: number): number {
  if (previous === undefined) return gap;
  return Math.round(previous * (1 - INTERVAL_WEIGHT) + gap * INTERVAL_WEIGHT);
}

function applyState(s: LiveState, state: StateMessage): LiveState {
  const before = s.states[state.entity_id];
  if (before && state.ts < before.ts) return s; // an older reading arriving late changes nothing
  const gap = before ? state.ts - before.ts : 0;
  const intervals =
    gap > 0
      ? { ...s.intervals, [state.entity_id]: learnInterval(s.intervals[state.entity_id], gap) }
      : s.intervals;
  return { ...s, states: { ...s.states, [state.entity_id]: state }, intervals };
}

/** Folds one live-feed message into the state. A snapshot replaces everything it describes. */
export function apply(s: LiveState, message: LiveMessage): LiveState {
  switch (message.type) {
    case 'snapshot': {
      const entities: Record<string, Entity> = {};
      const states: Record<string, StateMessage> = {};
      for (const item of message.entities) {
        const { entity, state } = splitEntity(item);
        entities[entity.id] = entity;
        if (state) states[entity.id] = state;
      }
      const devices: Record<string, Device> = {};
      for (const device of message.devices) devices[device.id] = device;
      // learnt intervals survive for the entities still there: they describe the device, not the connection
      const intervals: Record<string, number> = {};
      for (const id of Object.keys(entities))
        if (s.intervals[id] !== undefined) intervals[id] = s.intervals[id];
      return {
        ...s,
        loaded: true,
        connection: 'live',
        entities,
        states,
        devices,
        intervals,
        availability: {},
      };
    }
    case 'state':
      return applyState(s, message.state);
    case 'availability':
      return {
        ...s,
        availability: {
          ...s.availability,
          [message.entity_id]: { available: message.available, ts: message.ts },
        },
      };
    case 'device': {
      const before = s.devices[message.device.id];
      let availability = s.availability;
      if (before && before.online !== message.device.online) {
        // the device's own change is newer than what was said about its entities before
        availability = Object.fromEntries(
          Object.entries(s.availability).filter(([id]) => s.entities[id]?.device_id !== message.device.id),
        );
      }
      return { ...s, devices: { ...s.devices, [message.device.id]: message.device }, availability };
    }
    case 'entity': {
      const { entity, state } = splitEntity(message.entity);
      const next = { ...s, entities: { ...s.entities, [entity.id]: entity } };
      return state ? applyState(next, state) : next;
    }
    case 'entity_removed':
      return {
        ...s,
        entities: without(s.entities, message.entity_id),
        states: without(s.states, message.entity_id),
        availability: without(s.availability, message.entity_id),
        intervals: without(s.intervals, message.entity_id),
      };
    case 'device_removed':
      return { ...s, devices: without(s.devices, message.device_id) };
  }
}

/** Entities from an API answer (a PATCH, a PUT bindings) go through the same fold as the feed's. */
export function upsertEntity(s: LiveState, entity: EntityWithState): LiveState {
  return apply(s, { type: 'entity', entity });
}

export interface Store<T> {
  get(): T;
  set(next: T): void;
  update(fn: (current: T) => T): void;
  subscribe(listener: (value: T) => void): () => void;
}

export function createStore<T>(initial: T): Store<T> {
  let value = initial;
  const listeners = new Set<(value: T) => void>();
  return {
    get: () => value,
    set(next) {
      if (next === value) return;
      value = next;
      for (const listener of listeners) listener(value);
    },
    update(fn) {
      this.set(fn(value));
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
