// ESP-IDF secure boot v2 signature blocks: layout constants, the key types and the typed
// error. Reference: ESP-IDF `ets_secure_boot_sig_block_t` (esp_secure_boot.h and the
// ROM headers) and the "Signature Block Format" section of the Secure Boot v2 guide.
//
// A signed image is the image padded with 0xFF to a 4 KiB boundary, then one 4 KiB
// signature sector: up to three 1216-byte blocks, the rest 0xFF. Every block signs the
// SHA-256 of everything before the sector. Block (little-endian throughout):
//
//   0  magic 0xE7          RSA-3072 (version 0x02)          ECDSA (version 0x03)
//   1  version              36 n (384, LE)                    36 curve id (1 = P-192, 2 = P-256)
//   2  reserved / sha type  420 e (u32)                       37 x ‖ y (LE, 32 each for P-256)
//   3  reserved             424 R^-1 = 2^6144 mod n (384, LE) 101 r ‖ s (LE, 32 each)
//   4  image SHA-256 (32)   808 m' = -n^-1 mod 2^32 (u32)     165 zero padding to 1196
//                           812 signature (384, LE)
//   1196 CRC-32 (zlib, from 0) of bytes 0..1195, then 16 zero bytes → 1216
//
// The RSA peripheral wants little-endian numbers and Montgomery constants (R^-1, m')
// ready-made, which is why the public key is stored in that odd shape.

import { FirmwareFormatError } from '../format-error.js';

export const SIGNATURE_SECTOR_SIZE = 4096;
export const SIGNATURE_BLOCK_SIZE = 1216;
/** bytes the CRC covers: everything before the CRC field */
export const SIGNATURE_BLOCK_SIGNED_SIZE = 1196;
/** the bootloader reads at most three blocks from the sector (ESP32 ECO3 reads one) */
export const MAX_SIGNATURE_BLOCKS = 3;
export const SIGNATURE_BLOCK_MAGIC = 0xe7;
export const SIGNATURE_VERSION_RSA = 0x02;
export const SIGNATURE_VERSION_ECDSA = 0x03;
/** the ECDSA block's hash-type byte: 0 = SHA-256 (1 = SHA-384 with P-384, not supported here) */
export const ECDSA_SHA_256 = 0x00;
export const CURVE_ID_P192 = 1;
export const CURVE_ID_P256 = 2;
export const CURVE_ID_P384 = 3;
export const RSA_MODULUS_BYTES = 384;
/** RSA-PSS salt length ESP-IDF's verifier expects (the digest length) */
export const RSA_PSS_SALT_LENGTH = 32;

export const SIGNING_SCHEMES = ['rsa3072', 'ecdsa256'] as const;
export type SigningScheme = (typeof SIGNING_SCHEMES)[number];

/** The public half of a signing key, as the signature block carries it. */
export type SigningPublicKey =
  | { scheme: 'rsa3072'; n: bigint; e: number }
  | { scheme: 'ecdsa256'; x: bigint; y: bigint };

export type SignatureErrorReason =
  | 'empty'
  | 'already-signed'
  | 'bad-key'
  | 'bad-signature'
  | 'not-sector-aligned'
  | 'unsigned';

export class SignatureFormatError extends FirmwareFormatError<SignatureErrorReason> {
  readonly format = 'signature';
  override name = 'SignatureFormatError';
}
