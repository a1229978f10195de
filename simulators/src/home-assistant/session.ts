// One client connection to the simulated Home Assistant: the auth phase, then one
// handler per command type, dispatched by one switch (developers.home-assistant.io/docs/api/websocket).
import type { RawData, WebSocket } from 'ws';
import {
  AuthMessageSchema,
  CallServiceSchema,
  CommandBaseSchema,
  HA_ERROR,
  type HaErrorCode,
  SIM_HA_VERSION,
  SubscribeEntitiesSchema,
  SubscribeEventsSchema,
  SupportedFeaturesSchema,
  UnsubscribeEventsSchema,
} from './protocol.js';
import { SERVICES, ServiceError, type SimEntityState } from './services.js';
import { compress, diff, type SimEntity, type SimState } from './state.js';

/** What a session needs from the instance it belongs to. */
export interface SessionHost {
  checkToken(token: string): boolean;
  states(): SimState[];
  registryEntries(): unknown[];
  deviceEntries(): unknown[];
  resolveTarget(entityIds: readonly string[], areaIds: readonly string[]): string[];
  entityState(entityId: string): SimEntityState | undefined;
  applyService(entityId: string, next: SimEntityState): void;
  recordServiceCall(record: {
    domain: string;
    service: string;
    data: Record<string, unknown>;
    entity_ids: string[];
    result: string;
  }): void;
  sessionEnded(session: HaSession): void;
  sessionAuthenticated(ok: boolean): void;
  authTimeoutMs(): number;
}

type Subscription =
  | { kind: 'events'; eventType: string | undefined }
  | { kind: 'entities'; ids: Set<string> | undefined };

type Outgoing = Record<string, unknown>;

export class HaSession {
  authenticated = false;
  #lastId = 0;
  #coalesce = false;
  #outbox: Outgoing[] = [];
  #flushScheduled = false;
  readonly #subscriptions = new Map<number, Subscription>();
  readonly #authTimer: NodeJS.Timeout;

  constructor(
    private readonly ws: WebSocket,
    private readonly host: SessionHost,
  ) {
    ws.on('close', () => {
      clearTimeout(this.#authTimer);
      host.sessionEnded(this);
    });
    ws.on('error', () => ws.terminate());
    this.#authTimer = setTimeout(() => ws.close(), host.authTimeoutMs());
    this.#authTimer.unref();
    this.#sendNow({ type: 'auth_required', ha_version: SIM_HA_VERSION });
  }

  terminate(): void {
    this.ws.terminate();
  }

  receive(data: RawData, isBinary: boolean): void {
    let message: unknown;
    try {
      message = isBinary ? undefined : JSON.parse(data.toString());
    } catch {
      message = undefined;
    }
    if (message === undefined) {
      // Home Assistant drops a connection that sends something other than JSON text
      this.ws.close(1003, 'Received invalid JSON.');
      return;
    }
    if (!this.authenticated) this.#auth(message);
    else this.#command(message);
  }

  /** An entity changed: tell the subscriptions that care. */
  entityChanged(
    change: { entity_id: string; old: SimState | undefined; state: SimState | undefined },
    old: SimEntity | undefined,
    next: SimEntity | undefined,
  ): void {
    if (!this.authenticated) return;
    for (const [id, sub] of this.#subscriptions) {
      if (sub.kind === 'events') {
        if (sub.eventType !== undefined && sub.eventType !== 'state_changed') continue;
        this.#event(id, 'state_changed', {
          entity_id: change.entity_id,
          old_state: change.old ?? null,
          new_state: change.state ?? null,
        });
        continue;
      }
      if (sub.ids && !sub.ids.has(change.entity_id)) continue;
      const update = !next
        ? { r: [change.entity_id] }
        : !old
          ? { a: { [change.entity_id]: compress(next) } }
          : { c: { [change.entity_id]: diff(old, next) } };
      this.#send({ id, type: 'event', event: update });
    }
  }

  // [auth phase] auth_required → auth → auth_ok | auth_invalid (then the connection closes)
  #auth(message: unknown): void {
    clearTimeout(this.#authTimer);
    const auth = AuthMessageSchema.safeParse(message);
    const ok = auth.success && this.host.checkToken(auth.data.access_token);
    this.host.sessionAuthenticated(ok);
    if (!ok) {
      this.#sendNow({
        type: 'auth_invalid',
        message: auth.success ? 'Invalid access token or password' : 'Auth message incorrectly formatted',
      });
      this.ws.close();
      return;
    }
    this.authenticated = true;
    this.#sendNow({ type: 'auth_ok', ha_version: SIM_HA_VERSION });
  }

  #command(message: unknown): void {
    const base = CommandBaseSchema.safeParse(message);
    if (!base.success) {
      const id =
        typeof (message as { id?: unknown })?.id === 'number' ? (message as { id: number }).id : null;
      this.#error(id, HA_ERROR.invalidFormat, 'Message incorrectly formatted.');
      return;
    }
    const { id, type } = base.data;
    // supported_features is always id 1, the client's first message; every later id must grow
    if (id <= this.#lastId) {
      this.#error(id, HA_ERROR.idReuse, 'Identifier values have to increase.');
      return;
    }
    this.#lastId = id;
    const body = base.data as Record<string, unknown>;
    switch (type) {
      case 'supported_features':
        this.#supportedFeatures(id, body);
        return;
      case 'ping':
        this.#send({ id, type: 'pong' });
        return;
      case 'get_states':
        this.#result(id, this.host.states());
        return;
      case 'get_config':
        this.#result(id, {
          version: SIM_HA_VERSION,
          location_name: 'Simulated Home',
          state: 'RUNNING',
          components: Object.keys(SERVICES),
          unit_system: {
            temperature: '°C',
            length: 'km',
            mass: 'g',
            volume: 'L',
            pressure: 'Pa',
            wind_speed: 'm/s',
            accumulated_precipitation: 'mm',
          },
          time_zone: 'UTC',
        });
        return;
      case 'config/entity_registry/list':
        this.#result(id, this.host.registryEntries());
        return;
      case 'config/device_registry/list':
        this.#result(id, this.host.deviceEntries());
        return;
      case 'subscribe_events':
        this.#subscribeEvents(id, body);
        return;
      case 'subscribe_entities':
        this.#subscribeEntities(id, body);
        return;
      case 'unsubscribe_events':
        this.#unsubscribe(id, body);
        return;
      case 'call_service':
        this.#callService(id, body);
        return;
      default:
        this.#error(id, HA_ERROR.unknownCommand, 'Unknown command.');
        return;
    }
  }

  #supportedFeatures(id: number, body: Record<string, unknown>): void {
    const parsed = SupportedFeaturesSchema.safeParse(body);
    if (!parsed.success) {
      this.#error(id, HA_ERROR.invalidFormat, parsed.error.issues[0]!.message);
      return;
    }
    this.#coalesce = parsed.data.features?.coalesce_messages === 1;
    this.#result(id, null);
  }

  #subscribeEvents(id: number, body: Record<string, unknown>): void {
    const parsed = SubscribeEventsSchema.safeParse(body);
    if (!parsed.success) {
      this.#error(id, HA_ERROR.invalidFormat, parsed.error.issues[0]!.message);
      return;
    }
    this.#subscriptions.set(id, { kind: 'events', eventType: parsed.data.event_type });
    this.#result(id, null);
  }

  // the result first, then one event with every entity (`a`), then diffs as they happen
  #subscribeEntities(id: number, body: Record<string, unknown>): void {
    const parsed = SubscribeEntitiesSchema.safeParse(body);
    if (!parsed.success) {
      this.#error(id, HA_ERROR.invalidFormat, parsed.error.issues[0]!.message);
      return;
    }
    const ids = parsed.data.entity_ids ? new Set(parsed.data.entity_ids) : undefined;
    this.#subscriptions.set(id, { kind: 'entities', ids });
    this.#result(id, null);
    const added: Record<string, unknown> = {};
    for (const state of this.host.states()) {
      if (ids && !ids.has(state.entity_id)) continue;
      added[state.entity_id] = {
        s: state.state,
        a: state.attributes,
        c: state.context.id,
        lc: Date.parse(state.last_changed) / 1000,
        ...(state.last_updated !== state.last_changed ? { lu: Date.parse(state.last_updated) / 1000 } : {}),
      };
    }
    this.#send({ id, type: 'event', event: { a: added } });
  }

  #unsubscribe(id: number, body: Record<string, unknown>): void {
    const parsed = UnsubscribeEventsSchema.safeParse(body);
    if (!parsed.success) {
      this.#error(id, HA_ERROR.invalidFormat, parsed.error.issues[0]!.message);
      return;
    }
    if (!this.#subscriptions.delete(parsed.data.subscription)) {
      this.#error(id, HA_ERROR.notFound, 'Subscription not found.');
      return;
    }
    this.#result(id, null);
  }

  #callService(id: number, body: Record<string, unknown>): void {
    const parsed = CallServiceSchema.safeParse(body);
    if (!parsed.success) {
      this.#error(id, HA_ERROR.invalidFormat, parsed.error.issues[0]!.message);
      return;
    }
    const { domain, service, target } = parsed.data;
    const data = { ...parsed.data.service_data };
    const list = (value: unknown) =>
      typeof value === 'string'
        ? [value]
        : Array.isArray(value)
          ? value.filter((v) => typeof v === 'string')
          : [];
    const entityIds = [...list(target?.entity_id), ...list(data.entity_id)];
    delete data.entity_id;
    const targets = this.host
      .resolveTarget(entityIds, list(target?.area_id))
      .filter((entityId) => entityId.split('.')[0] === domain);
    const record = { domain, service, data, entity_ids: targets };
    const handler = SERVICES[domain]?.[service];
    if (!handler) {
      this.host.recordServiceCall({ ...record, result: HA_ERROR.notFound });
      this.#error(id, HA_ERROR.notFound, `Action ${domain}.${service} not found.`);
      return;
    }
    // every entity is checked before any changes, so a refused call changes nothing
    const changes: [string, SimEntityState][] = [];
    try {
      for (const entityId of targets) {
        const current = this.host.entityState(entityId);
        if (current) changes.push([entityId, handler(current, data)]);
      }
    } catch (error) {
      if (!(error instanceof ServiceError)) throw error;
      this.host.recordServiceCall({ ...record, result: error.code });
      this.#error(id, error.code, error.message);
      return;
    }
    this.host.recordServiceCall({ ...record, result: 'ok' });
    const contextId = `01SIMCALL${id}`;
    for (const [sid, sub] of this.#subscriptions) {
      if (sub.kind === 'events' && (sub.eventType === undefined || sub.eventType === 'call_service')) {
        this.#event(sid, 'call_service', { domain, service, service_data: { ...data, entity_id: targets } });
      }
    }
    // the states are written (and their events sent) before the result, as Home Assistant
    // does for a blocking call
    for (const [entityId, next] of changes) this.host.applyService(entityId, next);
    this.#result(id, {
      context: { id: contextId, parent_id: null, user_id: null },
      ...(parsed.data.return_response ? { response: null } : {}),
    });
  }

  #event(id: number, eventType: string, data: Record<string, unknown>): void {
    this.#send({
      id,
      type: 'event',
      event: {
        event_type: eventType,
        data,
        origin: 'LOCAL',
        time_fired: new Date().toISOString(),
        context: { id: `01SIMEVT${Date.now()}`, parent_id: null, user_id: null },
      },
    });
  }

  #result(id: number, result: unknown): void {
    this.#send({ id, type: 'result', success: true, result });
  }

  #error(id: number | null, code: HaErrorCode, message: string): void {
    this.#send({ id, type: 'result', success: false, error: { code, message } });
  }

  /** With coalescing on, what is sent in one turn goes as one JSON array, as Home Assistant does. */
  #send(message: Outgoing): void {
    if (!this.#coalesce) {
      this.#sendNow(message);
      return;
    }
    this.#outbox.push(message);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      const batch = this.#outbox;
      this.#outbox = [];
      this.#sendNow(batch.length === 1 ? batch[0]! : batch);
    });
  }

  #sendNow(message: Outgoing | Outgoing[]): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(message));
  }
}
