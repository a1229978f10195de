// Per-device tokens for picket devices. Only a SHA-256 of each token is stored
// (KV bucket sentinel_credentials): a token is 256 random bits, so a fast hash is
// as strong as a slow one here, and it keeps 10,000 reconnecting devices cheap.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import { PicketIdSchema } from '@sentinel/firmware';
import { z } from 'zod';
import { bucketKeys } from '../bus/bucket-keys.js';
import { mirrorBucket } from '../bus/mirror.js';
import { picketDeviceId } from '../bus/names.js';

const StoredCredentialSchema = z.object({
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  created: z.number().int(),
});
type StoredCredential = z.infer<typeof StoredCredentialSchema>;

export class DeviceExistsError extends Error {
  override name = 'DeviceExistsError';
}
export class InvalidDeviceIdError extends Error {
  override name = 'InvalidDeviceIdError';
}
export class DeviceNotRegisteredError extends Error {
  override name = 'DeviceNotRegisteredError';
}

const hashToken = (token: string) => createHash('sha256').update(token).digest();

export function parsePicketId(id: string): string {
  const parsed = PicketIdSchema.safeParse(id);
  if (!parsed.success)
    throw new InvalidDeviceIdError(`invalid device id "${id}": ${parsed.error.issues[0]!.message}`);
  return parsed.data;
}

/** Registration and revocation: what `sentinel device add|remove|list` does. */
export class CredentialStore {
  constructor(protected readonly kv: KV) {}

  async add(id: string): Promise<{ device_id: string; token: string }> {
    parsePicketId(id);
    const token = randomBytes(32).toString('base64url');
    const record: StoredCredential = { sha256: hashToken(token).toString('hex'), created: Date.now() };
    try {
      await this.kv.create(id, JSON.stringify(record));
    } catch (error) {
      if (await this.kv.get(id).then((e) => e?.operation === 'PUT')) {
        throw new DeviceExistsError(
          `device "${id}" is already registered; remove it first to issue a new token`,
          { cause: error },
        );
      }
      throw error;
    }
    return { device_id: picketDeviceId(id), token };
  }

  /**
   * A new token for a registered device; the old one stops working at once and
   * live connections made with it are closed (the verifier sees the hash change).
   * Compare-and-set on the revision: two rotations at once cannot both win.
   */
  async rotate(id: string): Promise<{ device_id: string; token: string }> {
    parsePicketId(id);
    const entry = await this.kv.get(id);
    if (entry?.operation !== 'PUT')
      throw new DeviceNotRegisteredError(
        `device "${id}" is not registered; add it with \`sentinel device add ${id}\``,
      );
    const token = randomBytes(32).toString('base64url');
    const record: StoredCredential = { sha256: hashToken(token).toString('hex'), created: Date.now() };
    await this.kv.update(id, JSON.stringify(record), entry.revision);
    return { device_id: picketDeviceId(id), token };
  }

  /** Returns false when the device was not registered. */
  async remove(id: string): Promise<boolean> {
    parsePicketId(id);
    const entry = await this.kv.get(id);
    if (entry?.operation !== 'PUT') return false;
    await this.kv.delete(id);
    return true;
  }

  async list(): Promise<{ device_id: string; created: number }[]> {
    const devices: { device_id: string; created: number }[] = [];
    for (const key of await bucketKeys(this.kv)) {
      const record = await this.#read(key);
      if (record) devices.push({ device_id: picketDeviceId(key), created: record.created });
    }
    return devices.sort((a, b) => a.device_id.localeCompare(b.device_id));
  }

  async #read(id: string): Promise<StoredCredential | undefined> {
    const entry = await this.kv.get(id);
    if (entry?.operation !== 'PUT') return undefined;
    return StoredCredentialSchema.safeParse(entry.json()).data;
  }
}

/**
 * The gateway's view: every credential in memory, kept current by a KV watch, so
 * a connect costs one hash and a revocation reaches live connections at once.
 */
export class CredentialVerifier {
  readonly #hashes = new Map<string, Buffer>();
  #stopWatch: (() => void) | undefined;

  private constructor(
    private readonly kv: KV,
    private readonly onRevoked: (id: string) => void,
  ) {}

  static async start(kv: KV, onRevoked: (id: string) => void): Promise<CredentialVerifier> {
    const verifier = new CredentialVerifier(kv, onRevoked);
    verifier.#stopWatch = await mirrorBucket(kv, (id, value) => {
      const record = StoredCredentialSchema.safeParse(value);
      if (record.success) {
        const previous = verifier.#hashes.get(id);
        const hash = Buffer.from(record.data.sha256, 'hex');
        verifier.#hashes.set(id, hash);
        // a rotated token: connections made with the old one must not outlive it
        if (previous && !previous.equals(hash)) verifier.onRevoked(id);
      } else if (verifier.#hashes.delete(id)) verifier.onRevoked(id);
    });
    return verifier;
  }

  async verify(id: string, token: string | undefined): Promise<boolean> {
    if (!token) return false;
    // a device registered a moment ago may connect before the watch delivers it
    const expected = this.#hashes.get(id) ?? (await this.#fetch(id));
    return expected !== undefined && timingSafeEqual(expected, hashToken(token));
  }

  async #fetch(id: string): Promise<Buffer | undefined> {
    if (!PicketIdSchema.safeParse(id).success) return undefined;
    const entry = await this.kv.get(id).catch(() => null);
    const record = entry?.operation === 'PUT' ? StoredCredentialSchema.safeParse(entry.json()) : undefined;
    if (!record?.success) return undefined;
    const hash = Buffer.from(record.data.sha256, 'hex');
    this.#hashes.set(id, hash);
    return hash;
  }

  stop(): void {
    this.#stopWatch?.();
  }
}
