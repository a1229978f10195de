// Resent readings are applied once, cluster-wide. A device that lost its gateway
// resends every reading not yet confirmed, with its seq, to whichever node it
// reaches next; some of those were stored by the old node just before it died.
// JetStream's message-id window would drop them from SENTINEL_HISTORY, but a
// publish on sentinel.state.<id> reaches core subscribers (and the latest state)
// before the stream judges it. So a reading taken before its connection opened
// (device ts < connect time: a resend, or one buffered while offline) is first
// looked up in SENTINEL_HISTORY: a stored message with the same device, seq, key
// and ts is that reading, and it is acknowledged without being published again.
// One look-up per entity per connection covers the whole resend burst.
import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { HISTORY_STREAM, subject } from '../bus/names.js';
import type { Logger } from '../log.js';

/** how far before a resent reading's ts its stored copy may carry a server timestamp (clock skew) */
const SKEW_MS = 5000;
/** the most stored messages read per look-up */
const MAX_SCAN = 5000;

interface Lookup {
  /** stored readings from this time on are known */
  from: number;
  /** `<seq>:<key>:<ts>` of this device's stored readings */
  stored: Promise<Set<string>>;
}

export class ResendFilter {
  readonly #opened = new WeakMap<object, { at: number; lookups: Map<string, Lookup> }>();

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly log: Logger,
  ) {}

  /** A device connection opened: readings taken before now may be resends. */
  opened(session: object): void {
    this.#opened.set(session, { at: Date.now(), lookups: new Map() });
  }

  /** Whether a reading with this device ts needs a look-up before it is published. */
  mayBeResend(session: object, ts: number | undefined): boolean {
    const opened = this.#opened.get(session);
    return ts !== undefined && opened !== undefined && ts < opened.at;
  }

  /** Whether SENTINEL_HISTORY already holds this reading (device, seq, key, ts). */
  async isStored(
    session: object,
    reading: { deviceId: string; entityId: string; seq: number; key: string; ts: number },
  ): Promise<boolean> {
    const opened = this.#opened.get(session);
    if (!opened) return false;
    let lookup = opened.lookups.get(reading.entityId);
    if (!lookup || reading.ts < lookup.from) {
      const from = reading.ts - SKEW_MS;
      lookup = { from, stored: this.#storedSince(reading.deviceId, reading.entityId, from) };
      opened.lookups.set(reading.entityId, lookup);
    }
    const stored = await lookup.stored;
    return stored.has(`${reading.seq}:${reading.key}:${reading.ts}`);
  }

  async #storedSince(deviceId: string, entityId: string, from: number): Promise<Set<string>> {
    const stored = new Set<string>();
    const filter = subject.state(entityId);
    try {
      const last = await this.jsm.streams.getMessage(HISTORY_STREAM, { last_by_subj: filter });
      if (!last || last.time.getTime() < from) return stored;
      const consumer = await this.js.consumers.get(HISTORY_STREAM, {
        // one subject as a string: nats-server 2.9 knows filter_subject, not filter_subjects
        filter_subjects: filter,
        deliver_policy: DeliverPolicy.StartTime,
        opt_start_time: new Date(from).toISOString(),
      });
      const messages = await consumer.fetch({ max_messages: MAX_SCAN, expires: 5000 });
      for await (const msg of messages) {
        const id = msg.headers?.get('Nats-Msg-Id') ?? '';
        // `<device>:<seq>:<key>:<digest>` (picket/adapter.ts)
        const [device, seq, key] = id.split(':');
        if (device === deviceId) {
          const ts = (msg.json() as { ts?: unknown }).ts;
          stored.add(`${seq}:${key}:${ts}`);
        }
        if (msg.info.pending === 0 || msg.seq >= last.seq) break;
      }
    } catch (error) {
      // without the look-up a resend is published again: JetStream still keeps it out of history
      this.log.warn({ err: error, entity_id: entityId }, 'resend look-up in SENTINEL_HISTORY failed');
    }
    return stored;
  }
}
