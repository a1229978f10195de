// Logs are JSON lines on stderr (pino). Secrets never reach them: anything that
// could carry a token or password is redacted by path.
import { type Logger, pino } from 'pino';

export type { Logger };

export function createLogger(level: string, name = 'sentinel'): Logger {
  return pino(
    {
      name,
      level,
      redact: {
        paths: [
          'token',
          'password',
          'authorization',
          '*.token',
          '*.password',
          '*.authorization',
          'headers.authorization',
        ],
        censor: '[redacted]',
      },
    },
    pino.destination({ dest: 2, sync: false }),
  );
}

/**
 * Logs a repeated complaint about the same source at most once per window, with the
 * number suppressed, so that a device flooding bad messages cannot flood the log too.
 * Counters (metrics) still count every occurrence.
 */
export class ThrottledLog {
  readonly #last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly log: Logger,
    private readonly windowMs = 60_000,
  ) {}

  warn(key: string, fields: Record<string, unknown>, message: string): void {
    const now = Date.now();
    const entry = this.#last.get(key);
    if (entry && now - entry.at < this.windowMs) {
      entry.suppressed++;
      return;
    }
    if (this.#last.size > 10_000) this.#last.clear();
    this.#last.set(key, { at: now, suppressed: 0 });
    this.log.warn({ ...fields, suppressed_before: entry?.suppressed || undefined }, message);
  }
}
