// Durations in automations: milliseconds, or a string such as "90s", "10m", "1h30m".
import { z } from 'zod';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;
const WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;

export type Duration = number | string;

/** Milliseconds in `d`; throws on a malformed string so the automation fails at load. */
export function parseDuration(d: Duration): number {
  if (typeof d === 'number') {
    if (!Number.isFinite(d) || d < 0) throw new Error(`duration must be a non-negative number of ms: ${d}`);
    return d;
  }
  const text = d.replace(/\s+/g, '');
  if (!WHOLE.test(text)) throw new Error(`malformed duration "${d}" (use e.g. 500ms, 30s, 10m, 1h30m)`);
  let ms = 0;
  for (const [, n, unit] of text.matchAll(PART)) ms += Number(n) * UNIT_MS[unit as keyof typeof UNIT_MS];
  return ms;
}

export const durationSchema = z.union([z.number(), z.string()]).transform((d, ctx) => {
  try {
    return parseDuration(d);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

/** A duration that may be negative ("-15m": before an event). */
export const signedDurationSchema = z.union([z.number(), z.string()]).transform((d, ctx) => {
  try {
    if (typeof d === 'number') return d;
    const negative = d.trim().startsWith('-');
    const ms = parseDuration(negative ? d.trim().slice(1) : d);
    return negative ? -ms : ms;
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});
