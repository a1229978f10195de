// Public keys arrive as JSON Web Keys: node:crypto (`KeyObject.export({format:'jwk'})`)
// and Web Crypto (`exportKey('jwk')`) both give them, so the pure library needs no
// ASN.1/PEM parser of its own. Checked with zod here, at the boundary.

import { z } from 'zod';
import { firstIssue } from '../format-error.js';
import { bitLength, fromBytesBE } from './bigint.js';
import { RSA_MODULUS_BYTES, SignatureFormatError, type SigningPublicKey } from './format.js';
import { isOnP256 } from './p256.js';

const base64url = z.string().regex(/^[A-Za-z0-9_-]+$/, 'not base64url');

const JwkSchema = z.discriminatedUnion('kty', [
  z.object({ kty: z.literal('RSA'), n: base64url, e: base64url }),
  z.object({ kty: z.literal('EC'), crv: z.string(), x: base64url, y: base64url }),
]);

function decodeBase64url(text: string): Uint8Array {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/**
 * The signing public key a JWK describes; refuses keys secure boot v2 cannot carry
 * (RSA other than 3072 bits or with an exponent over 32 bits, curves other than P-256).
 */
export function publicKeyFromJwk(jwk: unknown): SigningPublicKey {
  const parsed = JwkSchema.safeParse(jwk);
  if (!parsed.success) throw new SignatureFormatError('bad-key', firstIssue(parsed.error, 'key'));
  const key = parsed.data;
  if (key.kty === 'RSA') {
    const n = fromBytesBE(decodeBase64url(key.n));
    const e = fromBytesBE(decodeBase64url(key.e));
    const bits = bitLength(n);
    if (bits !== RSA_MODULUS_BYTES * 8)
      throw new SignatureFormatError(
        'bad-key',
        `an RSA key of ${bits} bits: secure boot v2 takes RSA-3072 only`,
      );
    if (e < 3n || e > 0xffffffffn || e % 2n === 0n)
      throw new SignatureFormatError('bad-key', 'the RSA public exponent must be odd and fit in 32 bits');
    return { scheme: 'rsa3072', n, e: Number(e) };
  }
  if (key.crv !== 'P-256')
    throw new SignatureFormatError(
      'bad-key',
      `an ECDSA key on ${key.crv}: only P-256 is supported (P-192 is too weak, P-384 needs newer chips)`,
    );
  const x = fromBytesBE(decodeBase64url(key.x));
  const y = fromBytesBE(decodeBase64url(key.y));
  if (!isOnP256(x, y)) throw new SignatureFormatError('bad-key', 'the ECDSA public key is not a P-256 point');
  return { scheme: 'ecdsa256', x, y };
}
