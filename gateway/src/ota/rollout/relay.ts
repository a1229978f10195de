// OTA across gateway nodes. An offer lives on the node a device is connected to
// (../fleet.ts), and the rollout engine runs on whichever node holds the `ota` lock. So
// every node relays its own fleet on the bus:
// - requests on `sentinel.node.<node id>.ota` (offer, confirm, rollback) reach the
//   devices connected there;
// - its devices' progress goes out on `sentinel.ota.progress.<device>`.
// ClusterOtaFleet is the OtaFleet the engine drives: this node first, then the others.
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { z } from 'zod';
import type { Logger } from '../../log.js';
import type { OtaFleet, OtaImageRef, OtaProgress } from '../types.js';
import { ImageRefSchema } from './schema.js';

export const otaSubject = {
  node: (nodeId: string) => `sentinel.node.${nodeId}.ota`,
  progress: (device: string) => `sentinel.ota.progress.${device}`,
  progressAll: 'sentinel.ota.progress.*',
};

const RelayRequestSchema = z.discriminatedUnion('op', [
  z.object({
    op: z.literal('offer'),
    device: z.string(),
    image: ImageRefSchema,
    allow_downgrade: z.boolean().optional(),
    credential_ttl_ms: z.number().int().positive().optional(),
  }),
  z.object({ op: z.literal('confirm'), device: z.string(), offer: z.string() }),
  z.object({ op: z.literal('rollback'), device: z.string(), offer: z.string(), reason: z.string() }),
]);
type RelayRequest = z.infer<typeof RelayRequestSchema>;

const RelayReplySchema = z.union([
  z.object({ ok: z.literal(true), offer: z.string().optional() }),
  z.object({ ok: z.literal(false), reason: z.string(), message: z.string() }),
]);

/** A refusal that came back from another node, with its reason kept (the engine reads `.reason`). */
export class RemoteOtaRefusal extends Error {
  override name = 'RemoteOtaRefusal';
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** Reasons that mean "not here": ask the next node. */
const NOT_HERE = new Set(['offline', 'no_hello', 'unknown_offer']);

/** Answers this node's OTA requests and publishes its devices' progress. */
export class OtaRelay {
  #subscription: Subscription | undefined;
  #stopProgress: (() => void) | undefined;

  constructor(private readonly o: { nc: NatsConnection; nodeId: string; fleet: OtaFleet; log: Logger }) {}

  start(): void {
    this.#stopProgress = this.o.fleet.onProgress((progress) => {
      try {
        this.o.nc.publish(otaSubject.progress(progress.device), JSON.stringify(progress));
      } catch (error) {
        this.o.log.warn({ err: error }, 'cannot publish OTA progress');
      }
    });
    this.#subscription = this.o.nc.subscribe(otaSubject.node(this.o.nodeId), {
      callback: (error, msg) => {
        if (error) return;
        void this.#answer(msg.data).then((reply) => msg.respond(JSON.stringify(reply)));
      },
    });
  }

  async #answer(data: Uint8Array): Promise<z.infer<typeof RelayReplySchema>> {
    let request: RelayRequest;
    try {
      request = RelayRequestSchema.parse(JSON.parse(new TextDecoder().decode(data)));
    } catch (error) {
      return {
        ok: false,
        reason: 'bad_request',
        message: `bad OTA relay request: ${(error as Error).message}`,
      };
    }
    try {
      const fleet = this.o.fleet;
      if (request.op === 'offer') {
        const offer = await fleet.offer(request.device, request.image, {
          ...(request.allow_downgrade === undefined ? {} : { allowDowngrade: request.allow_downgrade }),
          ...(request.credential_ttl_ms === undefined ? {} : { credentialTtlMs: request.credential_ttl_ms }),
        });
        return { ok: true, offer };
      }
      if (request.op === 'confirm') await fleet.confirm(request.device, request.offer);
      else await fleet.rollback(request.device, request.offer, request.reason);
      return { ok: true };
    } catch (error) {
      const reason = (error as { reason?: unknown }).reason;
      return {
        ok: false,
        reason: typeof reason === 'string' ? reason : 'error',
        message: error instanceof Error ? error.message : String(error),
      };
    }
  }

  stop(): void {
    this.#stopProgress?.();
    this.#subscription?.unsubscribe();
  }
}

const PROGRESS_STATES = new Set([
  'downloading',
  'verifying',
  'rebooting',
  'booted',
  'confirmed',
  'rolled_back',
  'failed',
]);

/** The fleet of the whole cluster, as the rollout engine on the leader sees it. */
export class ClusterOtaFleet implements OtaFleet {
  constructor(
    private readonly o: {
      nc: NatsConnection;
      local: OtaFleet;
      /** the other nodes alive now */
      otherNodes: () => string[];
      timeoutMs?: number;
    },
  ) {}

  devices() {
    // the registry behind it is the cluster's (KV), with every device's last hello
    return this.o.local.devices();
  }

  offer(
    device: string,
    image: OtaImageRef,
    options: { allowDowngrade?: boolean; credentialTtlMs?: number } = {},
  ) {
    return this.#anywhere(() => this.o.local.offer(device, image, options), {
      op: 'offer',
      device,
      image,
      ...(options.allowDowngrade === undefined ? {} : { allow_downgrade: options.allowDowngrade }),
      ...(options.credentialTtlMs === undefined ? {} : { credential_ttl_ms: options.credentialTtlMs }),
    }) as Promise<string>;
  }

  async confirm(device: string, offer: string): Promise<void> {
    await this.#anywhere(() => this.o.local.confirm(device, offer), { op: 'confirm', device, offer });
  }

  async rollback(device: string, offer: string, reason: string): Promise<void> {
    await this.#anywhere(() => this.o.local.rollback(device, offer, reason), {
      op: 'rollback',
      device,
      offer,
      reason,
    });
  }

  onProgress(listener: (progress: OtaProgress) => void): () => void {
    const subscription = this.o.nc.subscribe(otaSubject.progressAll, {
      callback: (error, msg) => {
        if (error) return;
        try {
          const progress = msg.json<OtaProgress>();
          if (typeof progress?.device === 'string' && PROGRESS_STATES.has(progress.state)) listener(progress);
        } catch {
          // not a progress report: only gateway nodes publish here
        }
      },
    });
    return () => subscription.unsubscribe();
  }

  /** This node first; where the device is not, the other nodes in turn. */
  async #anywhere(local: () => Promise<unknown>, request: RelayRequest): Promise<unknown> {
    let notHere: unknown;
    try {
      const result = await local();
      return request.op === 'offer' ? result : undefined;
    } catch (error) {
      if (!NOT_HERE.has(String((error as { reason?: unknown }).reason))) throw error;
      notHere = error;
    }
    for (const node of this.o.otherNodes()) {
      const reply = await this.o.nc
        .request(otaSubject.node(node), JSON.stringify(request), { timeout: this.o.timeoutMs ?? 5000 })
        .then((msg) => RelayReplySchema.safeParse(msg.json()).data)
        .catch(() => undefined);
      if (!reply) continue; // that node is gone or too slow: the device is not reachable there
      if (reply.ok) return reply.offer;
      if (!NOT_HERE.has(reply.reason)) throw new RemoteOtaRefusal(reply.reason, reply.message);
    }
    throw notHere;
  }
}
