// Shared by the OTA device-path tests: images in a gateway's catalog, signing keys,
// and a recorder of what OtaFleet.onProgress reports.
import { constants, createPublicKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildAppImage,
  type ImageSigner,
  publicKeyFromJwk,
  type SigningPublicKey,
  signImage,
} from '@sentinel/firmware';
import { FirmwareStore } from '@sentinel/gateway/store';
import type { OtaFleet, OtaImageRef, OtaProgress } from '../src/ota/types.js';

export const OLD_VERSION = '1.4.0';
/** big enough for several reads and a resume in the middle */
export const IMAGE_SIZE = 256 * 1024;

export const dataDirForTest = () => mkdtemp(join(tmpdir(), 'sentinel-ota-'));

export function appImage(
  version: string,
  chip: Parameters<typeof buildAppImage>[0]['chip'] = 'esp32s3',
  size = IMAGE_SIZE,
): Uint8Array {
  return buildAppImage({ chip, appDesc: { projectName: 'picket', version, idfVersion: 'v5.3.1' }, size });
}

export interface TestKey {
  publicKey: SigningPublicKey;
  signer: ImageSigner;
}

export function rsaKey(): TestKey {
  return keyOf(generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 65537 }).privateKey);
}

export function ecKey(): TestKey {
  return keyOf(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
}

function keyOf(privateKey: KeyObject): TestKey {
  const publicKey = publicKeyFromJwk(createPublicKey(privateKey).export({ format: 'jwk' }));
  return {
    publicKey,
    signer: {
      publicKey,
      sign: (data) =>
        publicKey.scheme === 'rsa3072'
          ? sign('sha256', data, {
              key: privateKey,
              padding: constants.RSA_PKCS1_PSS_PADDING,
              saltLength: 32,
            })
          : sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' }),
    },
  };
}

export async function signed(image: Uint8Array, key: TestKey): Promise<Uint8Array> {
  return (await signImage(image, key.signer)).bytes;
}

/** Adds an image to the gateway's catalog (as `sentinel firmware add` does) and names it as a rollout would. */
export async function addToCatalog(dataDir: string, bytes: Uint8Array): Promise<OtaImageRef> {
  const { entry } = await new FirmwareStore(dataDir).addImage(bytes);
  return { sha256: entry.sha256, version: entry.version, size: entry.size, signed: entry.signature !== null };
}

/** Everything onProgress reported, and a way to await the next matching report. */
export function recordProgress(fleet: OtaFleet) {
  const seen: OtaProgress[] = [];
  const waiters = new Set<{ match: (p: OtaProgress) => boolean; resolve: (p: OtaProgress) => void }>();
  const stop = fleet.onProgress((progress) => {
    seen.push(progress);
    for (const waiter of waiters) {
      if (!waiter.match(progress)) continue;
      waiters.delete(waiter);
      waiter.resolve(progress);
    }
  });
  return {
    seen,
    stop,
    of: (offer: string) => seen.filter((p) => p.offer === offer),
    /** the first report (past or future) that matches */
    first(match: (p: OtaProgress) => boolean): Promise<OtaProgress> {
      const found = seen.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => waiters.add({ match, resolve }));
    },
  };
}
