// The bus as the gateway uses it: KV buckets, the history stream and its rollups, created
// idempotently (two nodes starting at once, or a restart, find them in place).
import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  StorageType,
} from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import { type ObjectStore, Objm } from '@nats-io/obj';
import { type NatsConnection, nanos } from '@nats-io/transport-node';
import { BUCKET, HISTORY_STREAM, ROLLUP_STREAM, subject } from './names.js';

export interface HistoryOptions {
  maxAgeSeconds: number;
  maxBytes: number;
}

export interface Bus {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  kv: Record<keyof typeof BUCKET, KV>;
  /** the OTA catalog's object store (used when NATS is external: docs/ota.md "The catalog") */
  firmware: ObjectStore;
}

/** extension: the OTA firmware catalog, one object per image (gateway/src/ota/catalog/) */
export const FIRMWARE_BUCKET = 'sentinel_firmware';

/** NATS API error 10058: a stream of that name exists (with another config). */
const STREAM_NAME_IN_USE = 10058;

/** How long JetStream remembers a message id to drop a resent reading (MQTT resend after reconnect). */
const DUPLICATE_WINDOW_S = 120;

/**
 * Opens (creating when missing) every bucket and the history stream. With `history`,
 * the stream's retention is brought to it; without (CLI tools), an existing stream is left alone.
 */
export interface BusLayout {
  /** replicas of buckets and the stream when they are created (a NATS cluster: 3) */
  replicas?: number;
  /** max_age of sentinel_locks when it is created: the leader lease (see locks.ts) */
  lockTtlMs?: number;
}

export async function openBus(
  nc: NatsConnection,
  history?: HistoryOptions,
  layout: BusLayout = {},
): Promise<Bus> {
  const jsm = await jetstreamManager(nc, { timeout: 10_000 });
  const js = jetstream(nc, { timeout: 10_000 });
  const replicas = layout.replicas ?? 1;
  await ensureHistoryStream(jsm, history, replicas);
  await ensureRollupStream(jsm, history, replicas);
  const kvm = new Kvm(js);
  const open = (name: string, ttlMs = 0, history = 1) =>
    kvm.create(name, { history, storage: StorageType.File, ttl: ttlMs, replicas });
  const [entities, devices, state, locks, bindings, credentials, automations, ota, matter] =
    await Promise.all([
      open(BUCKET.entities),
      open(BUCKET.devices),
      open(BUCKET.state),
      open(BUCKET.locks, layout.lockTtlMs ?? 60_000),
      open(BUCKET.bindings),
      open(BUCKET.credentials),
      // created here: the automations credential may write it but not create buckets
      open(BUCKET.automations),
      open(BUCKET.ota),
      // created here for the matter credential as well; 5 revisions, so a corrupted record can be restored
      open(BUCKET.matter, 0, 5),
    ]);
  const firmware = await new Objm(js).create(FIRMWARE_BUCKET, { storage: StorageType.File, replicas });
  return {
    nc,
    js,
    jsm,
    kv: { entities, devices, state, locks, bindings, credentials, automations, ota, matter },
    firmware,
  };
}

const DEFAULT_HISTORY: HistoryOptions = { maxAgeSeconds: 7 * 24 * 3600, maxBytes: 1024 ** 3 };

async function ensureHistoryStream(
  jsm: JetStreamManager,
  history: HistoryOptions | undefined,
  replicas = 1,
): Promise<void> {
  const wanted = {
    max_age: nanos((history ?? DEFAULT_HISTORY).maxAgeSeconds * 1000),
    max_bytes: (history ?? DEFAULT_HISTORY).maxBytes,
    duplicate_window: nanos(DUPLICATE_WINDOW_S * 1000),
  };
  await ensureStream(jsm, HISTORY_STREAM, subject.stateAll, wanted, history !== undefined, replicas);
}

/**
 * The shortest time rollups are kept: the longest range the history API charts (30 d)
 * with a day to spare, so a month draws from rollups even where raw readings are gone.
 */
const ROLLUP_MIN_AGE_S = 31 * 24 * 3600;

/** SENTINEL_ROLLUP keeps its minutes at least as long as SENTINEL_HISTORY keeps the readings. */
async function ensureRollupStream(
  jsm: JetStreamManager,
  history: HistoryOptions | undefined,
  replicas = 1,
): Promise<void> {
  const base = history ?? DEFAULT_HISTORY;
  const wanted = {
    max_age: nanos(Math.max(base.maxAgeSeconds, ROLLUP_MIN_AGE_S) * 1000),
    // a minute of rollup is one message where 1 Hz readings are sixty: this bound is rarely reached
    max_bytes: base.maxBytes,
    duplicate_window: nanos(DUPLICATE_WINDOW_S * 1000),
  };
  await ensureStream(jsm, ROLLUP_STREAM, subject.rollupAll, wanted, history !== undefined, replicas);
}

/** Creates the stream, or (with `enforce`) brings an existing one's retention to `wanted`. */
async function ensureStream(
  jsm: JetStreamManager,
  name: string,
  subjects: string,
  wanted: { max_age: number; max_bytes: number; duplicate_window: number },
  enforce: boolean,
  replicas: number,
): Promise<void> {
  try {
    const info = await jsm.streams.info(name);
    const current = info.config;
    if (enforce && (current.max_age !== wanted.max_age || current.max_bytes !== wanted.max_bytes)) {
      await jsm.streams.update(name, { ...current, ...wanted });
    }
  } catch (error) {
    if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound)) throw error;
    await jsm.streams
      .add({
        name,
        subjects: [subjects],
        storage: StorageType.File,
        discard: DiscardPolicy.Old,
        num_replicas: replicas,
        ...wanted,
      })
      .catch(async (addError: unknown) => {
        // another node created it between our look-up and our add
        if (addError instanceof JetStreamApiError && addError.code === STREAM_NAME_IN_USE) return;
        throw addError;
      });
  }
}
