// Signing an image (the layout; the private-key operation is the caller's) and verifying
// a signed one the way the secure boot v2 bootloader does: the image digest in the block
// must match the data before the sector, the signature must verify with the key in the
// block, and — for a device — that key must be one it trusts (its eFuse key digests).

import { sha256, toHex } from '../hash.js';
import {
  appendSignatureSector,
  encodeSignatureBlock,
  hasSignatureSector,
  padToSector,
  publicKeyDigest,
  readSignatureSector,
} from './block.js';
import {
  SIGNATURE_BLOCK_MAGIC,
  SIGNATURE_BLOCK_SIZE,
  SIGNATURE_SECTOR_SIZE,
  SignatureFormatError,
  type SigningPublicKey,
  type SigningScheme,
} from './format.js';
import { verifyP256 } from './p256.js';
import { verifyRsaPss } from './rsa-pss.js';

/**
 * The private half, kept outside this library (node:crypto, Web Crypto, an HSM): signs
 * `data` with SHA-256 — RSA-PSS (MGF1-SHA-256, salt 32) giving the modulus-length
 * big-endian signature, or ECDSA P-256 giving r ‖ s (IEEE P1363, 64 bytes).
 */
export interface ImageSigner {
  publicKey: SigningPublicKey;
  sign(data: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

export interface SignedImage {
  /** the padded image followed by its signature sector */
  bytes: Uint8Array;
  /** bytes the signature covers (the image padded to 4 KiB) */
  signedLength: number;
  scheme: SigningScheme;
  /** SHA-256 of the signed data (hex) */
  imageDigest: string;
  /** SHA-256 of the public key as the block stores it (hex): the eFuse key digest */
  keyDigest: string;
}

/**
 * Pads `image` to 4 KiB with 0xFF and appends a signature sector with one block, as
 * `espsecure.py sign_data --version 2` does. An image that already ends in a signature
 * sector is refused: signing it again would sign the old signature too.
 */
export async function signImage(image: Uint8Array, signer: ImageSigner): Promise<SignedImage> {
  if (image.length === 0) throw new SignatureFormatError('empty', 'nothing to sign: the image is empty');
  if (hasSignatureSector(image))
    throw new SignatureFormatError('already-signed', 'the image already ends in a signature sector');
  const data = padToSector(image);
  const digest = sha256(data);
  const signature = await signer.sign(data);
  const block = encodeSignatureBlock(signer.publicKey, digest, signature);
  const bytes = appendSignatureSector(data, [block]);
  // a key that does not match the signer, or a signer using other parameters, would make
  // an image every device refuses: check it here rather than on a ladder
  const check = verifySignedImage(bytes);
  if (!check.valid)
    throw new SignatureFormatError(
      'bad-signature',
      `the signer's signature does not verify with its public key (${check.reason})`,
    );
  return {
    bytes,
    signedLength: data.length,
    scheme: signer.publicKey.scheme,
    imageDigest: toHex(digest),
    keyDigest: publicKeyDigest(signer.publicKey),
  };
}

export interface SignatureBlockCheck {
  index: number;
  scheme: SigningScheme;
  keyDigest: string;
  /** the block's image digest equals the SHA-256 of the data before the sector */
  digestValid: boolean;
  signatureValid: boolean;
  /** undefined when no trusted keys were given */
  trusted: boolean | undefined;
  valid: boolean;
}

export interface SignatureVerification {
  valid: boolean;
  /** bytes covered by the signature (the image without its signature sector) */
  signedLength: number;
  imageDigest: string;
  blocks: SignatureBlockCheck[];
  /** slots that hold something other than a usable block, with the reason */
  problems: { index: number; reason: string }[];
  /** why the image is not valid, when it is not */
  reason?: string;
}

/**
 * Checks every block of the signature sector that ends `signed`. Valid when at least one
 * block verifies — and, with `trusted` keys, is signed by one of them. A structurally
 * unsigned input (not 4 KiB-aligned, no block at all) throws; a wrong digest or
 * signature is a finding, `valid: false` with the reason.
 */
export function verifySignedImage(
  signed: Uint8Array,
  options: { trusted?: readonly SigningPublicKey[] } = {},
): SignatureVerification {
  const slots = readSignatureSector(signed);
  const signedLength = signed.length - SIGNATURE_SECTOR_SIZE;
  const digest = sha256(signed.subarray(0, signedLength));
  const imageDigest = toHex(digest);
  const trustedDigests = options.trusted?.map(publicKeyDigest);
  const blocks: SignatureBlockCheck[] = [];
  const problems: { index: number; reason: string }[] = [];
  for (const slot of slots) {
    if (slot.state === 'invalid' || slot.state === 'unsupported') {
      problems.push({ index: slot.index, reason: slot.reason });
      continue;
    }
    if (slot.state === 'empty') continue;
    const digestValid = toHex(slot.imageDigest) === imageDigest;
    let signatureValid: boolean;
    if (slot.scheme === 'rsa3072') {
      signatureValid =
        slot.constantsValid && verifyRsaPss(slot.imageDigest, slot.signature, slot.key.n, slot.key.e);
      if (!slot.constantsValid)
        problems.push({ index: slot.index, reason: "the block's R^-1 or m' does not belong to its modulus" });
    } else signatureValid = verifyP256(slot.imageDigest, slot.r, slot.s, slot.key.x, slot.key.y);
    const trusted = trustedDigests?.includes(slot.keyDigest);
    blocks.push({
      index: slot.index,
      scheme: slot.scheme,
      keyDigest: slot.keyDigest,
      digestValid,
      signatureValid,
      trusted,
      valid: digestValid && signatureValid && trusted !== false,
    });
  }
  // no slot even starts with the magic byte: this was never signed (rather than damaged)
  const sector = signed.subarray(signedLength);
  const noMagic = slots.every((s) => sector[s.index * SIGNATURE_BLOCK_SIZE] !== SIGNATURE_BLOCK_MAGIC);
  if (blocks.length === 0 && noMagic)
    throw new SignatureFormatError('unsigned', 'not signed: the last 4 KiB hold no signature block');
  const result: SignatureVerification = {
    valid: blocks.some((b) => b.valid),
    signedLength,
    imageDigest,
    blocks,
    problems,
  };
  if (!result.valid) result.reason = invalidReason(blocks, problems);
  return result;
}

function invalidReason(
  blocks: readonly SignatureBlockCheck[],
  problems: readonly { index: number; reason: string }[],
): string {
  if (blocks.length === 0)
    return `no usable signature block (${problems.map((p) => `block ${p.index}: ${p.reason}`).join('; ')})`;
  if (blocks.every((b) => !b.digestValid))
    return 'the image does not match the digest its signature block signs (modified after signing)';
  if (blocks.every((b) => !b.signatureValid || !b.digestValid))
    return 'the signature does not verify with the key in its block';
  return 'signed, but not by a trusted key';
}
