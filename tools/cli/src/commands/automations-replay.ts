// `sentinel automations replay <file> --from <time> --to <time>`: what an automation
// would have done over recorded history (SENTINEL_HISTORY), on a simulated clock.
// Nothing is sent: the automation runs against a private nats-server (see
// automations/src/replay), this command only reads the registry and the history.
import {
  formatLine,
  parseDuration,
  readEntityRecords,
  replayAutomation,
  traceLines,
} from '@sentinel/automations';
import type { Command } from 'commander';
import { z } from 'zod';
import { CliError, UsageError } from '../errors.js';
import { addStoreOptions, withStore } from './device.js';

type Store = Parameters<Parameters<typeof withStore>[1]>[0];

/** A reading as SENTINEL_HISTORY stores it (CONTRACT.md §3); anything else is counted and left out. */
const storedReadingSchema = z.object({
  entity_id: z.string().min(1),
  value: z.union([z.number(), z.boolean(), z.string(), z.null()]),
  ts: z.number(),
  unit: z.string().optional(),
});
type StoredReading = z.infer<typeof storedReadingSchema>;

/** how far a reading's own ts may run ahead of when the stream stored it (a device's clock) */
const CLOCK_SKEW_MS = 60_000;

/** `2025-06-21T10:00:00Z`, `2025-06-21`, `now`, or a duration before now such as `-7d` or `-90m`. */
export function parseTime(text: string, option: string, now = Date.now()): number {
  if (text === 'now') return now;
  if (text.startsWith('-')) {
    try {
      return now - parseDuration(text.slice(1));
    } catch (error) {
      throw new UsageError(`${option} ${text}: ${(error as Error).message}`);
    }
  }
  const ms = Date.parse(text);
  if (Number.isNaN(ms))
    throw new UsageError(`${option} ${text}: not a time (use e.g. 2025-06-21T10:00:00Z, now, or -7d)`);
  return ms;
}

function parseCoordinate(text: string | undefined, option: string, limit: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || Math.abs(n) > limit)
    throw new UsageError(`${option} ${text}: a number of degrees between -${limit} and ${limit}`);
  return n;
}

/**
 * The readings of every entity stored from `start` on (by the stream's clock), oldest
 * first, up to what was stored when asked or until the stream passes `until`.
 */
async function* readingsFrom(
  store: Store,
  start: number,
  until: number,
  onInvalid: () => void,
): AsyncGenerator<StoredReading> {
  const consumer = await store.bus.js.consumers.get('SENTINEL_HISTORY', {
    filter_subjects: 'sentinel.state.>',
    // DeliverPolicy.StartTime; the enum's package is the gateway's, not the CLI's
    deliver_policy: 'by_start_time' as never,
    opt_start_time: new Date(start).toISOString(),
  });
  try {
    if ((await consumer.info(true)).num_pending === 0) return;
    const messages = await consumer.consume({ max_messages: 10_000 });
    try {
      for await (const m of messages) {
        const storedAt = Math.floor(Number(m.info.timestampNanos) / 1e6);
        let reading: unknown;
        try {
          reading = m.json();
        } catch {
          reading = undefined;
        }
        const parsed = storedReadingSchema.safeParse(reading);
        if (parsed.success && m.subject === `sentinel.state.${parsed.data.entity_id}`) {
          // stored well after the range and recorded after it too: the rest is later still
          if (storedAt > until + CLOCK_SKEW_MS && parsed.data.ts > until) break;
          yield parsed.data;
        } else onInvalid();
        if (m.info.pending === 0) break;
      }
    } finally {
      await messages.close().catch(() => undefined);
    }
  } finally {
    await consumer.delete().catch(() => undefined);
  }
}

export function registerAutomationsReplayCommand(automations: Command): void {
  addStoreOptions(
    automations
      .command('replay')
      .description(
        'run an automation over recorded readings (SENTINEL_HISTORY) on a simulated clock and print what it would have done and when; nothing is sent',
      )
      .argument('<file>', 'the automation (.ts or .js)')
      .requiredOption(
        '--from <time>',
        'start: an ISO time (2025-06-21T10:00:00Z) or a duration before now (-7d)',
      )
      .option('--to <time>', 'end: an ISO time, a duration before now, or now', 'now')
      .option(
        '--warmup <duration>',
        'how far before --from to look for each entity’s state at the start',
        '1h',
      )
      .option('--latitude <degrees>', 'for sun triggers: where the runtime would be')
      .option('--longitude <degrees>', 'for sun triggers')
      .option('--json', 'print each run as its JSON trace, one per line'),
  ).action(
    async (
      file: string,
      flags: {
        from: string;
        to: string;
        warmup: string;
        latitude?: string;
        longitude?: string;
        json?: boolean;
      },
      self: Command,
    ) => {
      const now = Date.now();
      const from = parseTime(flags.from, '--from', now);
      const to = parseTime(flags.to, '--to', now);
      if (to <= from) throw new UsageError(`--to (${new Date(to).toISOString()}) must be after --from`);
      let warmup: number;
      try {
        warmup = parseDuration(flags.warmup);
      } catch (error) {
        throw new UsageError(`--warmup ${flags.warmup}: ${(error as Error).message}`);
      }
      const latitude = parseCoordinate(flags.latitude, '--latitude', 90);
      const longitude = parseCoordinate(flags.longitude, '--longitude', 180);
      if ((latitude === undefined) !== (longitude === undefined))
        throw new UsageError('give both --latitude and --longitude (or neither)');
      const location =
        latitude !== undefined && longitude !== undefined ? { latitude, longitude } : undefined;

      const result = await withStore(self, async (store) => {
        const { records, invalid } = await readEntityRecords(store.bus.kv.entities);
        for (const bad of invalid)
          process.stderr.write(`skipped entity "${bad.key}": not an entity record (${bad.reason})\n`);
        const names = new Map(records.map((e) => [e.id, e.name]));
        const name = (id: string) => (names.has(id) ? `${names.get(id)} (${id})` : id);
        let malformed = 0;
        const history = readingsFrom(store, from - warmup, to, () => malformed++)[Symbol.asyncIterator]();
        // readings before --from are the state the automation starts from: the latest of each entity
        const initial = new Map<string, StoredReading>();
        let first: IteratorResult<StoredReading>;
        for (;;) {
          first = await history.next();
          if (first.done || first.value.ts >= from) break;
          initial.set(first.value.entity_id, first.value);
        }
        const readings = (async function* () {
          if (first.done) return;
          yield first.value;
          for (;;) {
            const next = await history.next();
            if (next.done) return;
            yield next.value;
          }
        })();
        process.stderr.write(
          `replaying ${file} from ${new Date(from).toISOString()} to ${new Date(to).toISOString()} (nothing is sent)\n`,
        );
        try {
          const outcome = await replayAutomation({
            file,
            from,
            to,
            entities: records,
            initial: [...initial.values()],
            readings,
            location,
            onTrace: (trace) => {
              if (flags.json) process.stdout.write(`${JSON.stringify(trace)}\n`);
              else
                for (const line of traceLines(trace, name))
                  process.stdout.write(`${formatLine(trace.automation_id, line)}\n`);
            },
            onProgress: (count, clock) =>
              process.stderr.write(`… ${count} readings, at ${new Date(clock).toISOString()}\n`),
          });
          return { ...outcome, malformed };
        } finally {
          await history.return?.(undefined);
        }
      });
      if (result.loadError) throw new CliError(`${file} does not load: ${result.loadError}`);
      const runs = result.traces.filter((t) => t.result !== 'skipped' && t.result !== 'conditions_failed');
      const notes = [
        `${result.readings} readings`,
        `${runs.length} runs`,
        `${result.commands} commands (not sent)`,
        result.malformed > 0 ? `${result.malformed} malformed readings left out` : undefined,
        result.unsettled > 0
          ? `${result.unsettled} times a run neither finished nor waited on the clock within 10 s`
          : undefined,
      ].filter(Boolean);
      process.stderr.write(`replayed ${notes.join(', ')}\n`);
    },
  );
}
