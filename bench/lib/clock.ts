// Send and receive times for latency across processes on one machine.
//
// `performance.timeOrigin + performance.now()` is epoch time with sub-ms
// resolution; timeOrigin is taken from the wall clock once per process, and on
// this kind of machine different processes agree to a few µs (checked: the
// offset to CLOCK_MONOTONIC differs by < 5 µs between processes).
//
// The picket `ts` must be integer ms (CONTRACT §3) and the gateway copies it
// through unchanged, but 1 ms steps are too coarse for p50 latencies of a few
// ms. So the reading itself carries the rest: the temperature value is
// `21.<µs>` where <µs> is the sub-millisecond part of the send time (000–999).
// It stays a plausible temperature of the same size as the `21.5` of a real
// device (±3 bytes), travels through the gateway as an ordinary value, and
// send time = ts + (value − 21) with µs resolution.

export const BASE_VALUE = 21;

/** Epoch milliseconds with sub-ms resolution. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** The `ts` and the value text that together encode `sendMs`. */
export function encodeSendTime(sendMs: number): { ts: number; value: string } {
  const ts = Math.floor(sendMs);
  const micros = Math.min(999, Math.floor((sendMs - ts) * 1000));
  return { ts, value: `${BASE_VALUE}.${String(micros).padStart(3, '0')}` };
}

/** The send time back from `ts` and the value; undefined when they are not ours. */
export function decodeSendTime(ts: unknown, value: unknown): number | undefined {
  if (typeof ts !== 'number' || typeof value !== 'number') return undefined;
  const fraction = value - BASE_VALUE;
  if (!(fraction >= 0 && fraction < 1)) return undefined;
  return ts + fraction;
}
