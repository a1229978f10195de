// A simulated Home Assistant: its WebSocket API (developers.home-assistant.io/docs/api/websocket)
// on 127.0.0.1, judged by whether Home Assistant's own client (home-assistant-js-websocket)
// accepts it. Auth phase, get_states, subscribe_entities (the compressed a/c/r updates the
// frontend uses), subscribe_events / unsubscribe_events, call_service with entities that
// obey it, config/entity_registry/list and config/device_registry/list, ping,
// supported_features with message coalescing, and result errors with Home Assistant's codes. Tests drive the "Home Assistant side"
// through the methods (set a state, drop every connection, change the token).
import { EventEmitter, once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { SIM_HA_VERSION } from './protocol.js';
import type { SimEntityState } from './services.js';
import { HaSession, type SessionHost } from './session.js';
import { type SimEntity as Entity, type SimState, toState } from './state.js';

/** An entity as a test describes it. `unique_id` puts it in the entity registry. */
export interface SimEntitySpec {
  entity_id: string;
  state: string;
  attributes?: Record<string, unknown>;
  /** the integration's unique id (the entity registry's `unique_id`); absent: a registry entry without one */
  unique_id?: string;
  /** the integration that made it (registry `platform`, e.g. `mqtt`, `hue`) */
  platform?: string;
  area_id?: string | null;
  /** the device (of `devices`) the entity belongs to, as an integration registers it */
  device_id?: string;
}

/** A device of Home Assistant's device registry (one physical device, several entities). */
export interface SimDeviceSpec {
  /** Home Assistant's device ids are 32 hex digits */
  id: string;
  name: string;
  /** what the user renamed it to, which wins over `name` */
  name_by_user?: string | null;
  manufacturer?: string | null;
  model?: string | null;
  sw_version?: string | null;
  /** its entities are in this area unless their own entry says otherwise */
  area_id?: string | null;
}

export interface SimulatedHomeAssistantOptions {
  /** the long-lived access token clients must present */
  token: string;
  entities?: readonly SimEntitySpec[];
  /** the device registry; entities name theirs with `device_id` */
  devices?: readonly SimDeviceSpec[];
  /** default 127.0.0.1 */
  host?: string;
  /** default 0: any free port */
  port?: number;
  /** Home Assistant closes a connection that does not authenticate within 10 s */
  authTimeoutMs?: number;
}

export interface SimRegistryEntry {
  entity_id: string;
  unique_id: string | null;
  platform: string;
  area_id: string | null;
  device_id: string | null;
  disabled_by: null;
  hidden_by: null;
  name: null;
}

/** A device registry entry as config/device_registry/list returns it (the fields clients read). */
export interface SimDeviceEntry {
  id: string;
  name: string;
  name_by_user: string | null;
  manufacturer: string | null;
  model: string | null;
  sw_version: string | null;
  area_id: string | null;
  disabled_by: null;
  identifiers: [string, string][];
  via_device_id: null;
}

export interface ServiceCallRecord {
  domain: string;
  service: string;
  data: Record<string, unknown>;
  entity_ids: string[];
  /** the result code Home Assistant answered with: `ok` or an error code */
  result: string;
}

/** What changed, for subscribers (compressed or not). `state` undefined: removed. */
export interface SimChange {
  entity_id: string;
  old: SimState | undefined;
  state: SimState | undefined;
}

type Events = {
  /** a client passed the auth phase */
  authenticated: [];
  /** a client presented a wrong or malformed token */
  auth_invalid: [];
  service_call: [ServiceCallRecord];
  change: [SimChange];
  /** an authenticated client's connection ended */
  disconnected: [];
};

let contextCounter = 0;
/** Home Assistant context ids are ULIDs; any unique string does for a client */
const newContextId = () =>
  `01SIM${Date.now().toString(36).toUpperCase()}${(++contextCounter).toString(36).toUpperCase()}`;

export class SimulatedHomeAssistant extends EventEmitter<Events> implements SessionHost {
  readonly serviceCalls: ServiceCallRecord[] = [];
  readonly haVersion = SIM_HA_VERSION;
  readonly #entities = new Map<string, Entity>();
  readonly #registry = new Map<string, SimRegistryEntry>();
  readonly #devices = new Map<string, SimDeviceEntry>();
  readonly #ignoring = new Set<string>();
  readonly #sessions = new Set<HaSession>();
  readonly #sockets = new Set<Socket>();
  readonly #wss = new WebSocketServer({ noServer: true });
  #token: string;
  #refusing = false;
  #port = 0;

  private constructor(
    private readonly server: Server,
    private readonly options: SimulatedHomeAssistantOptions,
  ) {
    super();
    this.#token = options.token;
    for (const spec of options.devices ?? []) this.addDevice(spec);
    for (const spec of options.entities ?? []) this.addEntity(spec);
    server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    server.on('upgrade', (request, socket, head) => this.#upgrade(request, socket as Socket, head));
  }

  static async start(options: SimulatedHomeAssistantOptions): Promise<SimulatedHomeAssistant> {
    const server = createServer((_request, response) => {
      // only the WebSocket API is simulated; the REST API answers as an unknown path would
      response.writeHead(404, { 'content-type': 'text/plain' }).end('404: Not Found');
    });
    const ha = new SimulatedHomeAssistant(server, options);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
    await once(server, 'listening');
    ha.#port = (server.address() as AddressInfo).port;
    return ha;
  }

  get port(): number {
    return this.#port;
  }

  /** The base URL, as a person types it into a client (`http://127.0.0.1:<port>`). */
  get url(): string {
    return `http://${this.options.host ?? '127.0.0.1'}:${this.#port}`;
  }

  /** Authenticated connections right now. */
  get connections(): number {
    let count = 0;
    for (const session of this.#sessions) if (session.authenticated) count++;
    return count;
  }

  // --- the "Home Assistant side", for tests -------------------------------------------------

  /** Adds an entity (and its registry entry), announced to subscribers. */
  addEntity(spec: SimEntitySpec): void {
    this.#registry.set(spec.entity_id, {
      entity_id: spec.entity_id,
      unique_id: spec.unique_id ?? null,
      platform: spec.platform ?? spec.entity_id.split('.')[0]!,
      area_id: spec.area_id ?? null,
      device_id: spec.device_id ?? null,
      disabled_by: null,
      hidden_by: null,
      name: null,
    });
    this.setState(spec.entity_id, spec.state, spec.attributes ?? {});
  }

  /** Adds (or replaces) a device registry entry; its entities come with addEntity. */
  addDevice(spec: SimDeviceSpec): void {
    this.#devices.set(spec.id, {
      id: spec.id,
      name: spec.name,
      name_by_user: spec.name_by_user ?? null,
      manufacturer: spec.manufacturer ?? null,
      model: spec.model ?? null,
      sw_version: spec.sw_version ?? null,
      area_id: spec.area_id ?? null,
      disabled_by: null,
      identifiers: [['simulated', spec.id]],
      via_device_id: null,
    });
  }

  /** Sets a state as an integration would (attributes replaced when given); subscribers hear of it. */
  setState(entityId: string, state: string, attributes?: Record<string, unknown>): void {
    const old = this.#entities.get(entityId);
    const now = Date.now();
    const next: Entity = {
      entity_id: entityId,
      state,
      attributes: attributes ?? old?.attributes ?? {},
      lastChanged: old && old.state === state ? old.lastChanged : now,
      lastUpdated: now,
      contextId: newContextId(),
    };
    this.#entities.set(entityId, next);
    this.#changed(entityId, old, next);
  }

  removeEntity(entityId: string): void {
    const old = this.#entities.get(entityId);
    if (!old) return;
    this.#entities.delete(entityId);
    this.#registry.delete(entityId);
    this.#changed(entityId, old, undefined);
  }

  /** The entity answers service calls with success but does not change (a device that does not respond). */
  ignoreServices(entityId: string, ignore = true): void {
    if (ignore) this.#ignoring.add(entityId);
    else this.#ignoring.delete(entityId);
  }

  /** A token change: connections made from now on need the new one (existing ones stay). */
  setToken(token: string): void {
    this.#token = token;
  }

  /** Ends every WebSocket connection without a close handshake, as a restarting Home Assistant does. */
  dropConnections(): void {
    for (const session of this.#sessions) session.terminate();
  }

  /** While refusing, new WebSocket upgrades are answered 503 (Home Assistant starting up). */
  refuseConnections(refuse: boolean): void {
    this.#refusing = refuse;
  }

  state(entityId: string): SimState | undefined {
    const entity = this.#entities.get(entityId);
    return entity && toState(entity);
  }

  async stop(): Promise<void> {
    this.dropConnections();
    this.#wss.close();
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // --- what sessions ask of the instance (SessionHost) ---------------------------------------

  checkToken(token: string): boolean {
    return token === this.#token;
  }

  states(): SimState[] {
    return [...this.#entities.values()].map(toState);
  }

  registryEntries(): SimRegistryEntry[] {
    return [...this.#registry.values()];
  }

  deviceEntries(): SimDeviceEntry[] {
    return [...this.#devices.values()];
  }

  /** The entities a call targets: entity ids (a missing one is skipped, as Home Assistant does) and areas. */
  resolveTarget(entityIds: readonly string[], areaIds: readonly string[]): string[] {
    const ids = new Set(entityIds.filter((id) => this.#entities.has(id)));
    for (const entry of this.#registry.values()) {
      // an entity's own area wins over its device's, as in Home Assistant
      const area = entry.area_id ?? (entry.device_id ? this.#devices.get(entry.device_id)?.area_id : null);
      if (area && areaIds.includes(area) && this.#entities.has(entry.entity_id)) ids.add(entry.entity_id);
    }
    return [...ids];
  }

  entityState(entityId: string): SimEntityState | undefined {
    return this.#entities.get(entityId);
  }

  /** Applies what a service decided; an ignoring entity keeps its state. */
  applyService(entityId: string, next: SimEntityState): void {
    if (this.#ignoring.has(entityId)) return;
    const current = this.#entities.get(entityId);
    if (!current) return;
    // Home Assistant writes a state only when state or attributes differ
    if (
      current.state === next.state &&
      JSON.stringify(current.attributes) === JSON.stringify(next.attributes)
    )
      return;
    this.setState(entityId, next.state, next.attributes);
  }

  recordServiceCall(record: ServiceCallRecord): void {
    this.serviceCalls.push(record);
    this.emit('service_call', record);
  }

  sessionEnded(session: HaSession): void {
    this.#sessions.delete(session);
    if (session.authenticated) this.emit('disconnected');
  }

  sessionAuthenticated(ok: boolean): void {
    this.emit(ok ? 'authenticated' : 'auth_invalid');
  }

  authTimeoutMs(): number {
    return this.options.authTimeoutMs ?? 10_000;
  }

  // --- internals --------------------------------------------------------------------------

  #upgrade(request: IncomingMessage, socket: Socket, head: Buffer): void {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (path !== '/api/websocket' || this.#refusing) {
      const status = path !== '/api/websocket' ? '404 Not Found' : '503 Service Unavailable';
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    this.#wss.handleUpgrade(request, socket, head, (ws: WebSocket) => {
      const session = new HaSession(ws, this);
      this.#sessions.add(session);
      ws.on('message', (data: RawData, isBinary: boolean) => session.receive(data, isBinary));
    });
  }

  #changed(entityId: string, old: Entity | undefined, next: Entity | undefined): void {
    const change: SimChange = { entity_id: entityId, old: old && toState(old), state: next && toState(next) };
    for (const session of this.#sessions) session.entityChanged(change, old, next);
    this.emit('change', change);
  }
}
