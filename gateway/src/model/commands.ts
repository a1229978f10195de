// Command routing: `sentinel.cmd.<entity_id>` request/reply (CONTRACT.md §3). The
// request is validated against the entity's platform, then sent to the highest-
// priority binding whose device is online, through the adapter of its protocol.
// The reply waits for the device's confirmation.
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { z } from 'zod';
import { subject } from '../bus/names.js';
import { type Logger, ThrottledLog } from '../log.js';
import type { Metrics } from '../metrics.js';
import { type IsOnline, onlineBindings } from './bindings.js';
import type { Binding, EntityRecord } from './records.js';
import type { Registry } from './registry.js';

export type CommandErrorCode = 'unavailable' | 'timeout' | 'rejected' | 'not_supported' | 'invalid';
export type CommandReply = { ok: true } | { ok: false; error: { code: CommandErrorCode; message: string } };

export const CommandRequestSchema = z.object({
  value: z.unknown().optional(),
  action: z.string().min(1).max(32).optional(),
});
export type CommandRequest = z.infer<typeof CommandRequestSchema>;

/** What a protocol adapter offers the router. */
export interface CommandTarget {
  readonly protocol: string;
  isOnline: IsOnline;
  send(binding: Binding, request: CommandRequest, timeoutMs: number): Promise<CommandReply>;
}

export const failure = (code: CommandErrorCode, message: string): CommandReply => ({
  ok: false,
  error: { code, message },
});

const scalar = z.union([z.boolean(), z.number().finite(), z.string().max(255)]);
const onOff = z.boolean();

/** What each platform accepts; absent = the platform takes no commands (sensors, events). */
const COMMAND_VALUES: Partial<Record<EntityRecord['platform'], (entity: EntityRecord) => z.ZodType>> = {
  switch: () => onOff,
  light: () => z.union([onOff, z.record(z.string(), scalar)]),
  fan: () => z.union([onOff, z.number().min(0).max(100)]),
  lock: () => onOff,
  cover: () => z.number().min(0).max(100),
  climate: () => z.union([z.number().finite(), z.record(z.string(), scalar)]),
  text: () => z.string().max(255),
  number: (e) =>
    z
      .number()
      .finite()
      .min(e.min ?? Number.NEGATIVE_INFINITY)
      .max(e.max ?? Number.POSITIVE_INFINITY),
  select: (e) => (e.options ? z.enum(e.options as [string, ...string[]]) : z.string()),
  button: () => z.undefined(),
};

/** Actions a platform accepts instead of a value. */
const COMMAND_ACTIONS: Partial<Record<EntityRecord['platform'], readonly string[]>> = {
  button: ['press'],
  switch: ['toggle'],
  light: ['toggle'],
  cover: ['open', 'close', 'stop'],
  lock: ['lock', 'unlock', 'open'],
};

export function validateCommand(entity: EntityRecord, request: CommandRequest): CommandReply | undefined {
  const values = COMMAND_VALUES[entity.platform];
  if (!values) return failure('not_supported', `a ${entity.platform} takes no commands`);
  if (request.action !== undefined) {
    const actions = COMMAND_ACTIONS[entity.platform] ?? [];
    if (!actions.includes(request.action)) {
      return failure(
        'invalid',
        `a ${entity.platform} has no action "${request.action}" (has: ${actions.join(', ') || 'none'})`,
      );
    }
    return undefined;
  }
  const checked = values(entity).safeParse(request.value);
  if (!checked.success) {
    return failure('invalid', `bad value for a ${entity.platform}: ${checked.error.issues[0]!.message}`);
  }
  return undefined;
}

export class CommandRouter {
  #subscription: Subscription | undefined;
  readonly #targets = new Map<string, CommandTarget>();
  readonly #inFlight = new Set<Promise<void>>();
  /** another node's way to the device, when none is online here (cluster/forwarding.ts) */
  #forward: ((entity: EntityRecord, data: Uint8Array) => Promise<CommandReply> | undefined) | undefined;
  private readonly badRequests: ThrottledLog;

  constructor(
    private readonly nc: NatsConnection,
    private readonly registry: Registry,
    private readonly timeoutMs: number,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.badRequests = new ThrottledLog(log);
  }

  setForwarder(forward: (entity: EntityRecord, data: Uint8Array) => Promise<CommandReply> | undefined): void {
    this.#forward = forward;
  }

  addTarget(target: CommandTarget): void {
    this.#targets.set(target.protocol, target);
  }

  start(): void {
    // a queue group: with two gateway nodes, each request is handled once
    this.#subscription = this.nc.subscribe(subject.commandAll, {
      queue: 'sentinel-gateway',
      callback: (error, msg) => {
        if (error) return;
        const handled = this.#handle(msg).finally(() => this.#inFlight.delete(handled));
        this.#inFlight.add(handled);
      },
    });
  }

  /** Stops taking commands; those under way go on. */
  stop(): void {
    this.#subscription?.unsubscribe();
  }

  /** Resolves once every command under way has been answered. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#inFlight]);
  }

  async #handle(msg: Msg): Promise<void> {
    const reply = await this.route(msg.subject.slice('sentinel.cmd.'.length), msg.data).catch(
      (error: unknown) => {
        this.log.error({ err: error }, 'command routing failed');
        return failure('unavailable', 'the gateway failed to route the command');
      },
    );
    this.metrics.commands.inc({ result: reply.ok ? 'ok' : reply.error.code });
    if (!reply.ok && reply.error.code === 'invalid') {
      // a bad request from the platform: say why, at most once a minute per reason
      this.badRequests.warn(
        `command:${reply.error.message}`,
        { subject: msg.subject, error: reply.error },
        'command refused',
      );
    } else {
      this.log.debug({ subject: msg.subject, reply }, 'command answered');
    }
    if (msg.reply) msg.respond(JSON.stringify(reply));
  }

  /** `local`: a request another node forwarded here; it is not forwarded again. */
  async route(entityId: string, data: Uint8Array, local = false): Promise<CommandReply> {
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder().decode(data));
    } catch {
      return failure('invalid', 'the request is not JSON');
    }
    const request = CommandRequestSchema.safeParse(body);
    if (!request.success) return failure('invalid', `bad request: ${request.error.issues[0]!.message}`);
    const entity = this.registry.entity(entityId);
    if (!entity) return failure('invalid', `unknown entity ${entityId}`);
    const invalid = validateCommand(entity, request.data);
    if (invalid) return invalid;
    const isOnline = (deviceId: string) =>
      entity.bindings.some(
        (b) => b.device_id === deviceId && this.#targets.get(b.protocol)?.isOnline(deviceId),
      );
    const [binding] = onlineBindings(entity, isOnline);
    if (!binding) {
      const forwarded = local ? undefined : this.#forward?.(entity, data);
      return forwarded ?? failure('unavailable', `no device of ${entity.name} is online`);
    }
    return this.#targets.get(binding.protocol)!.send(binding, request.data, this.timeoutMs);
  }
}
