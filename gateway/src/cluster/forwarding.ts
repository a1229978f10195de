// Commands across nodes: `sentinel.cmd.<entity_id>` is taken by whichever node's
// queue member gets it; when the device's connection is on another node, the
// request goes on to `sentinel.node.<node_id>.cmd.<entity_id>`, which only that
// node subscribes, and the device's confirmation comes back the same way. A
// forwarded request is never forwarded again, so two nodes cannot bounce it.
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { subject } from '../bus/names.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { CommandReply, CommandRouter } from '../model/commands.js';
import { failure } from '../model/commands.js';
import type { EntityRecord } from '../model/records.js';
import type { Registry } from '../model/registry.js';
import type { NodeLiveness } from './nodes.js';

/** time on top of the command timeout for the hop between nodes */
const HOP_MS = 2000;

export class CommandForwarding {
  #subscription: Subscription | undefined;

  constructor(
    private readonly o: {
      nc: NatsConnection;
      nodeId: string;
      registry: Registry;
      router: CommandRouter;
      liveness: NodeLiveness;
      commandTimeoutMs: number;
      metrics: Metrics;
      log: Logger;
    },
  ) {}

  /** The live node holding a device, when it is not this one. */
  readonly holderOf = (deviceId: string): string | undefined => {
    const device = this.o.registry.device(deviceId);
    const node = device?.node_id;
    if (!device?.online || typeof node !== 'string' || node === this.o.nodeId) return undefined;
    return this.o.liveness.isAlive(node) ? node : undefined;
  };

  start(): void {
    this.o.router.setForwarder((entity, data) => this.#forward(entity, data));
    this.#subscription = this.o.nc.subscribe(subject.nodeCommandAll(this.o.nodeId), {
      callback: (error, msg) => {
        if (error) return;
        const entityId = msg.subject.slice(subject.nodeCommand(this.o.nodeId, '').length);
        void this.o.router
          .route(entityId, msg.data, true)
          .catch((routeError: unknown) => {
            this.o.log.error({ err: routeError }, 'forwarded command failed');
            return failure('unavailable', 'the gateway failed to route the command');
          })
          .then((reply) => {
            this.o.metrics.commands.inc({ result: reply.ok ? 'ok' : reply.error.code });
            if (msg.reply) msg.respond(JSON.stringify(reply));
          });
      },
    });
  }

  stop(): void {
    this.#subscription?.unsubscribe();
  }

  #forward(entity: EntityRecord, data: Uint8Array): Promise<CommandReply> | undefined {
    const binding = [...entity.bindings]
      .sort((a, b) => b.priority - a.priority)
      .find((b) => this.holderOf(b.device_id) !== undefined);
    if (!binding) return undefined;
    const node = this.holderOf(binding.device_id)!;
    this.o.log.debug({ entity_id: entity.id, node }, 'forwarding a command to the node holding the device');
    return this.o.nc
      .request(subject.nodeCommand(node, entity.id), data, { timeout: this.o.commandTimeoutMs + HOP_MS })
      .then((msg) => msg.json<CommandReply>())
      .catch((error: unknown) => {
        this.o.log.warn({ err: error, node, entity_id: entity.id }, 'forwarded command got no answer');
        return failure('unavailable', `node ${node} holding ${entity.name} did not answer`);
      });
  }
}
