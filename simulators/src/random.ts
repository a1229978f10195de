// Randomness as a value, so tests can replay a device exactly (seededRandom) and
// production uses Math.random without anyone passing it around.

/** Returns a number in [0, 1), like Math.random. */
export type Random = () => number;

export const systemRandom: Random = Math.random;

/**
 * A small deterministic generator (mulberry32). Statistically fine for simulated
 * sensors and jitter; not for anything secret.
 */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal sample (Box–Muller); sensor noise is roughly Gaussian. */
export function gaussian(random: Random): number {
  // 1 - random() lies in (0, 1], so the logarithm stays finite
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
