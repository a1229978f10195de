export {
  appendSignatureSector,
  type DecodedSignatureBlock,
  decodeSignatureBlock,
  encodePublicKey,
  encodeSignatureBlock,
  hasSignatureSector,
  keyEquals,
  padToSector,
  publicKeyDigest,
  readSignatureSector,
  type SignatureSlot,
} from './block.js';
export {
  CURVE_ID_P256,
  MAX_SIGNATURE_BLOCKS,
  SIGNATURE_BLOCK_MAGIC,
  SIGNATURE_BLOCK_SIZE,
  SIGNATURE_SECTOR_SIZE,
  SIGNATURE_VERSION_ECDSA,
  SIGNATURE_VERSION_RSA,
  SIGNING_SCHEMES,
  type SignatureErrorReason,
  SignatureFormatError,
  type SigningPublicKey,
  type SigningScheme,
} from './format.js';
export { publicKeyFromJwk } from './keys.js';
export { verifyP256 } from './p256.js';
export {
  inspectRelease,
  type ReleaseErrorReason,
  ReleaseImageError,
  type ReleaseInfo,
  smallestOtaSlot,
} from './release.js';
export { rsaMPrime, rsaRInverse, verifyRsaPss } from './rsa-pss.js';
export {
  type ImageSigner,
  type SignatureBlockCheck,
  type SignatureVerification,
  type SignedImage,
  signImage,
  verifySignedImage,
} from './signed-image.js';
