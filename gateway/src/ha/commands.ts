// Commands Home Assistant publishes on our command topics. Each becomes a
// sentinel.cmd.<entity_id> request, so it is routed, validated and confirmed exactly
// like a command from anyone else. A command that fails puts the entity's real state
// back on its state topic, so Home Assistant does not keep showing what was asked for.
import { errors, type NatsConnection } from '@nats-io/transport-node';
import { haCommandRequest } from '@sentinel/devices';
import { subject } from '../bus/names.js';
import type { ThrottledLog } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { EntityRecord } from '../model/records.js';
import type { Registry } from '../model/registry.js';
import { CommandReplySchema } from './schemas.js';
import { parseCommandTopic } from './topics.js';

/** Longer than any command payload Home Assistant sends (a select option, a text of 255 characters). */
const MAX_PAYLOAD_BYTES = 4096;

export interface HaCommandsOptions {
  nc: NatsConnection;
  registry: Registry;
  /** the gateway's --command-timeout; the request waits a little longer for the router's own timeout reply */
  timeoutMs: number;
  metrics: Metrics;
  log: ThrottledLog;
  restoreState(entity: EntityRecord): void;
}

export class HaCommands {
  readonly #inFlight = new Set<Promise<void>>();

  constructor(private readonly o: HaCommandsOptions) {}

  handle(topic: string, payload: Buffer): void {
    const target = parseCommandTopic(topic);
    if (!target) {
      this.#reject('unknown_topic', { topic }, 'a message on a topic we do not serve');
      return;
    }
    if (payload.length > MAX_PAYLOAD_BYTES) {
      this.#reject('oversized', { topic }, 'command payload too large');
      return;
    }
    const entity = this.o.registry.entity(target.entityId);
    if (!entity || entity.device_id !== target.deviceId) {
      this.#reject('unknown_entity', { topic }, 'a command for an entity we do not export there');
      return;
    }
    const mapped = haCommandRequest(entity, target.kind, payload.toString('utf8'));
    if (!mapped.ok) {
      this.#reject(mapped.reason, { topic, detail: mapped.message }, 'Home Assistant command ignored');
      return;
    }
    const done = this.#send(entity, mapped.request).finally(() => this.#inFlight.delete(done));
    this.#inFlight.add(done);
  }

  async settled(): Promise<void> {
    await Promise.allSettled([...this.#inFlight]);
  }

  async #send(entity: EntityRecord, request: unknown): Promise<void> {
    let result: string;
    try {
      const msg = await this.o.nc.request(subject.command(entity.id), JSON.stringify(request), {
        timeout: this.o.timeoutMs + 1000,
      });
      const reply = CommandReplySchema.safeParse(safeJson(msg.string()));
      result = !reply.success ? 'bad_reply' : reply.data.ok ? 'ok' : reply.data.error.code;
    } catch (error) {
      // nobody serves sentinel.cmd (no gateway node answers): as unavailable as a device can be
      const noResponders =
        error instanceof errors.NoRespondersError ||
        (error instanceof errors.RequestError && error.isNoResponders());
      result = noResponders ? 'unavailable' : 'timeout';
    }
    this.o.metrics.haCommands.inc({ result });
    if (result === 'ok') return; // the device's next reading carries the new state
    this.o.log.warn(
      `ha-command:${entity.id}:${result}`,
      { entity_id: entity.id, result },
      'a command from Home Assistant failed; its state is put back',
    );
    this.o.restoreState(entity);
  }

  #reject(reason: string, fields: Record<string, unknown>, message: string): void {
    this.o.metrics.haRejected.inc({ reason });
    this.o.log.warn(`ha-reject:${reason}`, { ...fields, reason }, message);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
