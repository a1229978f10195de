// The private half of firmware signing, with node:crypto (OpenSSL): key generation,
// reading PEM keys, and the signer @sentinel/firmware's signImage calls. The block
// layout and verification stay in the pure library.

import {
  constants,
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  type KeyObject,
  sign,
} from 'node:crypto';
import { promisify } from 'node:util';
import {
  FirmwareFormatError,
  type ImageSigner,
  publicKeyFromJwk,
  type SigningPublicKey,
  type SigningScheme,
} from '@sentinel/firmware';
import { CliError } from '../errors.js';

/** A new signing key as PKCS#8 PEM (espsecure and ESP-IDF's build read it as is). */
export async function generateSigningKey(scheme: SigningScheme): Promise<string> {
  const { privateKey } =
    scheme === 'rsa3072'
      ? await promisify(generateKeyPair)('rsa', { modulusLength: 3072, publicExponent: 65537 })
      : await promisify(generateKeyPair)('ec', { namedCurve: 'P-256' });
  return privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}

function publicKeyOf(key: KeyObject, file: string): SigningPublicKey {
  try {
    const publicKey = key.type === 'public' ? key : createPublicKey(key);
    return publicKeyFromJwk(publicKey.export({ format: 'jwk' }));
  } catch (error) {
    if (error instanceof FirmwareFormatError)
      throw new CliError(`${file}: ${error.message}`, { cause: error });
    throw error;
  }
}

/** The signer for a PEM private key; refuses keys secure boot v2 cannot use. */
export function signerFromPem(pem: Uint8Array, file: string): ImageSigner {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: Buffer.from(pem), format: 'pem' });
  } catch (error) {
    throw new CliError(`${file}: not a PEM private key (${(error as Error).message})`, { cause: error });
  }
  const publicKey = publicKeyOf(key, file);
  return {
    publicKey,
    // SHA-256 of the data inside sign(): RSA-PSS with MGF1-SHA-256 and a 32-byte salt, or
    // ECDSA with r ‖ s in fixed width: what the bootloader's verifier expects
    sign: (data) =>
      publicKey.scheme === 'rsa3072'
        ? sign('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })
        : sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' }),
  };
}

/** The public key in a PEM file holding either half of a signing key. */
export function publicKeyFromPem(pem: Uint8Array, file: string): SigningPublicKey {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(pem), format: 'pem' });
  } catch (error) {
    throw new CliError(`${file}: not a PEM key (${(error as Error).message})`, { cause: error });
  }
  return publicKeyOf(key, file);
}
