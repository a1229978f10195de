// How long to wait before reconnecting the live feed. Pure.

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 30_000;
/** The wait before the nth reconnect (0-based): doubling, capped, with ±25 % jitter. */
export function backoff(attempt: number, random = Math.random()): number {
  const base = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** attempt);
  return Math.round(base * (0.75 + random * 0.5));
}
