// Big-number helpers for the verifiers. Verification only handles public values (key,
// digest, signature), so plain BigInt arithmetic, which is not constant-time, is fine;
// signing stays with a real crypto library (node:crypto in the CLI).

export function fromBytesBE(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value;
}

// Uint8Array.from: a copy also when `bytes` is a Buffer, whose slice() would share (and reverse) the caller's memory
export const fromBytesLE = (bytes: Uint8Array): bigint => fromBytesBE(Uint8Array.from(bytes).reverse());

/** `value` as exactly `length` big-endian bytes; throws when it does not fit. */
export function toBytesBE(value: bigint, length: number): Uint8Array {
  if (value < 0n) throw new RangeError('negative number');
  const out = new Uint8Array(length);
  let rest = value;
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  if (rest !== 0n) throw new RangeError(`number does not fit in ${length} bytes`);
  return out;
}

export const toBytesLE = (value: bigint, length: number): Uint8Array => toBytesBE(value, length).reverse();

export const mod = (a: bigint, m: bigint): bigint => {
  const r = a % m;
  return r < 0n ? r + m : r;
};

export function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = mod(base, modulus);
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
    e >>= 1n;
  }
  return result;
}

/** The inverse of `a` modulo `m` (extended Euclid); throws when there is none. */
export function modInverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [mod(a, m), m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  if (oldR !== 1n) throw new RangeError('not invertible');
  return mod(oldS, m);
}

export const bitLength = (value: bigint): number => (value === 0n ? 0 : value.toString(2).length);
