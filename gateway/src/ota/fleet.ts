// The OTA device path (docs/ota.md): offers to picket devices on this node, their
// progress reports, the hellos that tell whether a device came back on the new image,
// and the per-offer download credentials the download route checks. Rollouts
// (./rollout/) drive it only through the OtaFleet interface (./types.ts).
//
// An offer lives in memory on the node the device is connected to. A device that reboots
// keeps its offer id in flash and names it again (hello `ota_pending`, progress reports),
// so a gateway that restarted in between adopts the offer instead of refusing it.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Hello, OtaMessage, OtaProgressMessage } from '@sentinel/firmware';
import type { CredentialVerifier } from '../auth/credentials.js';
import {
  type CatalogEntry,
  FirmwareCatalogError,
  FirmwareStore,
  type OtaCatalog,
} from '../firmware-store.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Availability } from '../model/availability.js';
import type { Registry } from '../model/registry.js';
import type { Outcome, PicketAdapter, PicketOtaHandler } from '../picket/adapter.js';
import type { PicketSession } from '../picket/session.js';
import type { OtaFleet, OtaImageRef, OtaProgress } from './types.js';
import { compareVersions } from './versions.js';

/** Why an offer, a confirm or a rollback was refused: the `reason` of sentinel_ota_refused_total. */
export type OtaRefusalReason =
  | 'offline'
  | 'no_hello'
  | 'not_in_catalog'
  | 'image_mismatch'
  | 'wrong_chip'
  | 'too_large'
  | 'unsigned_to_signed_ota'
  | 'downgrade'
  | 'already_installed'
  | 'update_in_progress'
  | 'pending_verify'
  | 'not_subscribed'
  | 'unknown_offer'
  | 'not_booted';

/** Why a download was refused, with its HTTP status. */
export const DOWNLOAD_REFUSALS = {
  device_unauthenticated: 401,
  unknown_credential: 401,
  credential_for_another_device: 403,
  credential_expired: 410,
  offer_closed: 410,
  image_removed: 410,
  range_not_satisfiable: 416,
  /** the stored image does not hash to its SHA-256 (a damaged object store object) */
  image_corrupt: 502,
} as const;
export type DownloadRefusalReason = keyof typeof DOWNLOAD_REFUSALS;

export class OtaRefusal extends Error {
  override name = 'OtaRefusal';
  constructor(
    readonly reason: OtaRefusalReason,
    message: string,
  ) {
    super(message);
  }
}

export interface OtaDownloadGrant {
  device: string;
  offer: string;
  /** a local file with the image's verified bytes (OtaCatalog.imageFile) */
  path: string;
  size: number;
  sha256: string;
}

export type OtaDownloadDecision =
  | { ok: true; grant: OtaDownloadGrant }
  | { ok: false; status: number; reason: DownloadRefusalReason; message: string };

/** What the download route needs (gateway/src/http/routes/ota.ts). */
export interface OtaDownloads {
  authorize(
    offer: string,
    credential: string | undefined,
    authorization: string | undefined,
  ): Promise<OtaDownloadDecision>;
  /** counts and logs a refusal the route itself made (a bad Range, a vanished file) */
  refused(reason: DownloadRefusalReason, device: string, message: string): void;
  served(grant: OtaDownloadGrant, start: number, end: number): void;
  bytesSent(count: number): void;
}

type OfferState =
  | 'offered'
  | 'downloading'
  | 'verifying'
  | 'rebooting'
  | 'booted'
  | 'confirming'
  | 'confirmed'
  | 'failed'
  | 'rolled_back'
  | 'superseded';

const FINAL = new Set<OfferState>(['confirmed', 'failed', 'rolled_back', 'superseded']);
/** the device is past the download: its slot is being written or it reboots into it */
const AFTER_REBOOT = new Set<OfferState>(['rebooting', 'booted', 'confirming']);

interface Offer {
  id: string;
  /** picket id */
  device: string;
  version: string;
  /** the version the device ran when offered (undefined for an adopted offer) */
  from: string | undefined;
  size: number;
  sha256: string;
  credential: Buffer;
  expires: number;
  state: OfferState;
  /** why the gateway asked for a rollback, reported when the device comes back on the old image */
  rollbackReason?: string;
}

export interface DeviceOtaFleetOptions {
  adapter: PicketAdapter;
  registry: Registry;
  availability: Availability;
  verifier: CredentialVerifier;
  /** the OTA catalog (disk or object store); without it, <dataDir>/firmware/ota */
  catalog?: OtaCatalog;
  dataDir: string;
  metrics: Metrics;
  log: Logger;
  /** the origin (scheme, host, port) of download URLs for a device that reached us on `localAddress` */
  origin(localAddress: string | undefined): string;
  /** how long a download credential lives (default 15 minutes) */
  credentialTtlMs?: number;
}

const DEFAULT_CREDENTIAL_TTL_MS = 15 * 60_000;
const PROTOCOL_PREFIX = 'picket-';

export class DeviceOtaFleet implements OtaFleet, OtaDownloads, PicketOtaHandler {
  readonly #offers = new Map<string, Offer>();
  /** the latest offer per picket id */
  readonly #current = new Map<string, Offer>();
  /** the last hello of each device seen on this node */
  readonly #hellos = new Map<string, Hello>();
  readonly #listeners = new Set<(progress: OtaProgress) => void>();
  readonly #catalog: OtaCatalog;
  readonly #ttlMs: number;
  readonly #log: Logger;

  constructor(private readonly o: DeviceOtaFleetOptions) {
    this.#catalog = o.catalog ?? new FirmwareStore(o.dataDir).catalog;
    this.#ttlMs = o.credentialTtlMs ?? DEFAULT_CREDENTIAL_TTL_MS;
    this.#log = o.log.child({ subsystem: 'ota' });
    o.adapter.handleOta(this);
  }

  // ---- OtaFleet ----

  async devices(): Promise<
    Array<{ device: string; fw: string; chip: string; model?: string; online: boolean }>
  > {
    return this.o.registry
      .devices()
      .filter((d) => d.protocol === 'picket' && d.id.startsWith(PROTOCOL_PREFIX))
      .map((d) => {
        const device = d.id.slice(PROTOCOL_PREFIX.length);
        const hello = this.#hellos.get(device);
        const chip = hello?.chip ?? (typeof d.chip === 'string' ? d.chip : '');
        return {
          device,
          fw: hello?.fw ?? d.sw_version ?? '',
          chip,
          ...(d.model === undefined ? {} : { model: d.model }),
          online: this.o.availability.isOnlineAnywhere(d.id),
        };
      });
  }

  async offer(
    device: string,
    image: OtaImageRef,
    options: { allowDowngrade?: boolean; credentialTtlMs?: number } = {},
  ): Promise<string> {
    const ttlMs = options.credentialTtlMs ?? this.#ttlMs;
    try {
      return await this.#offer(device, image, options.allowDowngrade === true, ttlMs);
    } catch (error) {
      if (error instanceof OtaRefusal) this.#refused(error.reason, device, error.message);
      throw error;
    }
  }

  async #offer(device: string, image: OtaImageRef, allowDowngrade: boolean, ttlMs: number): Promise<string> {
    const session = this.o.adapter.session(device);
    if (!session)
      throw new OtaRefusal(
        'offline',
        `${device} is not connected to this gateway node; offer it when it is online`,
      );
    const hello = this.#hellos.get(device);
    if (!hello)
      throw new OtaRefusal(
        'no_hello',
        `${device} is connected but has not said hello yet; try again in a moment`,
      );
    const entry = (await this.#catalog.images()).find((e) => e.sha256 === image.sha256);
    if (!entry)
      throw new OtaRefusal(
        'not_in_catalog',
        `no image with sha256 ${image.sha256.slice(0, 12)}… in the firmware catalog; add it with \`sentinel firmware add\``,
      );
    checkRef(entry, image);
    if (entry.chip !== hello.chip)
      throw new OtaRefusal(
        'wrong_chip',
        `${device} is an ${hello.chip}; ${entry.id} is built for ${entry.chip}`,
      );
    if (hello.ota_slot_size !== undefined && entry.size > hello.ota_slot_size)
      throw new OtaRefusal(
        'too_large',
        `${entry.id} is ${entry.size} bytes; the OTA slot of ${device} holds ${hello.ota_slot_size}`,
      );
    if (hello.signed_ota === true && entry.signature === null)
      throw new OtaRefusal(
        'unsigned_to_signed_ota',
        `${device} takes signed images only (signed_ota) and ${entry.id} is unsigned; sign it with \`sentinel firmware sign\``,
      );
    const order = compareVersions(entry.version, hello.fw);
    if (order === 0) throw new OtaRefusal('already_installed', `${device} already runs ${hello.fw}`);
    if (order < 0 && !allowDowngrade)
      throw new OtaRefusal(
        'downgrade',
        `${entry.version} is older than ${hello.fw}, which ${device} runs; allow the downgrade explicitly`,
      );
    const previous = this.#current.get(device);
    if (previous && (previous.state === 'booted' || previous.state === 'confirming'))
      throw new OtaRefusal(
        'pending_verify',
        `${device} runs offer ${previous.id} (${previous.version}) unconfirmed; confirm or roll it back first`,
      );
    if (previous && (previous.state === 'verifying' || previous.state === 'rebooting'))
      throw new OtaRefusal(
        'update_in_progress',
        `${device} is ${previous.state} offer ${previous.id} (${previous.version}); wait for it to finish`,
      );

    const credential = randomBytes(24).toString('base64url');
    const offer: Offer = {
      id: randomBytes(12).toString('base64url'),
      device,
      version: entry.version,
      from: hello.fw,
      size: entry.size,
      sha256: entry.sha256,
      credential: Buffer.from(credential),
      expires: Date.now() + ttlMs,
      state: 'offered',
    };
    const message: OtaMessage = {
      op: 'offer',
      offer: offer.id,
      version: offer.version,
      size: offer.size,
      sha256: offer.sha256,
      signed: entry.signature !== null,
      url: `${this.o.origin(session.localAddress)}/api/ota/download/${offer.id}?credential=${credential}`,
      expires: offer.expires,
    };
    if (!session.deliverOta(message))
      throw new OtaRefusal('not_subscribed', `${device} is not subscribed to picket/${device}/ota`);
    // the older offer's credential stops working: one image per device at a time
    if (previous && !FINAL.has(previous.state)) previous.state = 'superseded';
    this.#offers.set(offer.id, offer);
    this.#current.set(device, offer);
    this.#log.info({ device, offer: offer.id, version: offer.version, from: offer.from }, 'OTA offer sent');
    return offer.id;
  }

  async confirm(device: string, offerId: string): Promise<void> {
    const session = this.o.adapter.session(device);
    try {
      const offer = this.#adopt(device, offerId);
      if (offer.state === 'confirmed') return;
      if (offer.state !== 'booted' && offer.state !== 'confirming')
        throw new OtaRefusal(
          'not_booted',
          `${device} has not come back on ${offer.version} (offer ${offerId} is ${offer.state}); confirm only after it did`,
        );
      if (!session) throw new OtaRefusal('offline', `${device} is not connected to this gateway node`);
      if (!session.deliverOta({ op: 'confirm', offer: offerId }))
        throw new OtaRefusal('not_subscribed', `${device} is not subscribed to picket/${device}/ota`);
      offer.state = 'confirming';
    } catch (error) {
      if (error instanceof OtaRefusal) this.#refused(error.reason, device, error.message);
      throw error;
    }
  }

  async rollback(device: string, offerId: string, reason: string): Promise<void> {
    let offer: Offer;
    try {
      offer = this.#adopt(device, offerId);
    } catch (error) {
      if (error instanceof OtaRefusal) this.#refused(error.reason, device, error.message);
      throw error;
    }
    if (FINAL.has(offer.state)) return;
    offer.rollbackReason = reason;
    // a device that is away gets it when it says hello on the new image; if it never does,
    // it rolls back by itself (the image was never marked valid)
    const delivered =
      this.o.adapter
        .session(device)
        ?.deliverOta({ op: 'rollback', offer: offerId, reason: reason.slice(0, 256) }) ?? false;
    this.#log.info({ device, offer: offerId, delivered, reason }, 'OTA rollback requested');
  }

  onProgress(listener: (progress: OtaProgress) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // ---- from the picket adapter ----

  hello(session: PicketSession, hello: Hello): void {
    const device = session.picketId;
    this.#hellos.set(device, hello);
    let offer = this.#current.get(device);
    // a device that booted an image offered before this gateway (re)started names its offer
    if (hello.ota_pending && offer?.id !== hello.ota_pending && !this.#offers.has(hello.ota_pending)) {
      offer = this.#adopt(device, hello.ota_pending, 'rebooting');
    }
    if (!offer || FINAL.has(offer.state)) return;
    if (hello.fw === offer.version) {
      if (offer.state === 'booted' || offer.state === 'confirming') {
        // it rebooted again before confirming: it is still waiting for the confirm
        if (offer.rollbackReason) this.#sendRollback(session, offer);
        return;
      }
      offer.state = 'booted';
      this.#emit({ device, offer: offer.id, state: 'booted', version: hello.fw });
      if (offer.rollbackReason) this.#sendRollback(session, offer);
      return;
    }
    if (AFTER_REBOOT.has(offer.state)) {
      this.#rolledBack(
        offer,
        hello.fw,
        offer.rollbackReason ??
          `${device} came back running ${hello.fw} instead of ${offer.version}: it booted its previous image`,
      );
    }
    // still on the old image before the reboot: a power cut mid-download, it resumes
  }

  progress(session: PicketSession, message: OtaProgressMessage): Outcome {
    const device = session.picketId;
    const offer = this.#offers.get(message.offer);
    if (!offer || offer.device !== device)
      return this.o.adapter.reject(
        session,
        'unknown_offer',
        `ota/progress: no offer ${message.offer} was made to ${device}`,
      );
    if (FINAL.has(offer.state)) return { ok: true }; // a late or repeated report
    const base = { device, offer: offer.id };
    switch (message.state) {
      case 'downloading':
        offer.state = 'downloading';
        this.#emit({
          ...base,
          state: 'downloading',
          percent: message.percent,
          ...(message.attempt === undefined ? {} : { attempt: message.attempt }),
          ...(message.retry === undefined ? {} : { retry: message.retry }),
        });
        break;
      case 'verifying':
      case 'rebooting':
        offer.state = message.state;
        this.#emit({ ...base, state: message.state });
        break;
      case 'pending_verify':
        if (offer.state === 'booted' || offer.state === 'confirming') break; // the hello said so first
        offer.state = 'booted';
        this.#emit({ ...base, state: 'booted', version: message.version });
        break;
      case 'confirmed':
        offer.state = 'confirmed';
        this.#log.info({ device, offer: offer.id, version: message.version }, 'OTA update confirmed');
        this.#emit({ ...base, state: 'confirmed', version: message.version });
        break;
      case 'failed':
        offer.state = 'failed';
        this.#log.warn(
          { device, offer: offer.id, reason: message.reason },
          'OTA update failed on the device',
        );
        this.#emit({ ...base, state: 'failed', reason: message.reason });
        break;
      case 'rolled_back':
        this.#rolledBack(offer, message.version, offer.rollbackReason ?? message.reason);
        break;
    }
    return { ok: true };
  }

  // ---- OtaDownloads ----

  async authorize(
    offerId: string,
    credential: string | undefined,
    authorization: string | undefined,
  ): Promise<OtaDownloadDecision> {
    const match = /^Bearer ([^:\s]+):(\S+)$/.exec(authorization ?? '');
    const device = match?.[1] ?? 'unknown';
    const refuse = (reason: DownloadRefusalReason, message: string): OtaDownloadDecision => {
      this.refused(reason, device, message);
      return { ok: false, status: DOWNLOAD_REFUSALS[reason], reason, message };
    };
    if (!match || !(await this.o.verifier.verify(device, match[2]).catch(() => false)))
      return refuse(
        'device_unauthenticated',
        'send Authorization: Bearer <device id>:<device token> with the download URL',
      );
    const offer = this.#offers.get(offerId);
    if (!offer || !credential || !sameSecret(offer.credential, credential))
      return refuse('unknown_credential', `no offer ${offerId} with this credential`);
    if (offer.device !== device)
      return refuse(
        'credential_for_another_device',
        `this download was offered to ${offer.device}, not ${device}`,
      );
    if (Date.now() >= offer.expires)
      return refuse('credential_expired', `the credential of offer ${offerId} expired; ask for a new offer`);
    if (FINAL.has(offer.state))
      return refuse('offer_closed', `offer ${offerId} is ${offer.state}; nothing to download`);
    let path: string | undefined;
    try {
      path = await this.#catalog.imageFile(offer.sha256);
    } catch (error) {
      if (error instanceof FirmwareCatalogError && error.reason === 'corrupt-image')
        return refuse('image_corrupt', error.message);
      throw error;
    }
    if (!path) return refuse('image_removed', `the image of offer ${offerId} is no longer in the catalog`);
    return {
      ok: true,
      grant: { device, offer: offer.id, path, size: offer.size, sha256: offer.sha256 },
    };
  }

  refused(reason: DownloadRefusalReason | OtaRefusalReason, device: string, message: string): void {
    this.#refused(reason, device, message);
  }

  served(grant: OtaDownloadGrant, start: number, end: number): void {
    this.#log.debug({ device: grant.device, offer: grant.offer, start, end }, 'OTA download');
  }

  bytesSent(count: number): void {
    this.o.metrics.otaBytes.inc(count);
  }

  // ---- inside ----

  #refused(reason: string, device: string, message: string): void {
    this.o.metrics.otaRefused.inc({ reason });
    this.#log.warn({ device, reason }, message);
  }

  #emit(progress: OtaProgress): void {
    for (const listener of this.#listeners) {
      try {
        listener(progress);
      } catch (error) {
        this.#log.error({ err: error }, 'an OTA progress listener failed');
      }
    }
  }

  #rolledBack(offer: Offer, version: string, reason: string): void {
    offer.state = 'rolled_back';
    this.#log.warn({ device: offer.device, offer: offer.id, version, reason }, 'OTA update rolled back');
    this.#emit({ device: offer.device, offer: offer.id, state: 'rolled_back', version, reason });
  }

  #sendRollback(session: PicketSession, offer: Offer): void {
    session.deliverOta({
      op: 'rollback',
      offer: offer.id,
      reason: (offer.rollbackReason ?? '').slice(0, 256),
    });
  }

  /**
   * The offer record for a confirm, rollback or pending hello: ours, or one a device names
   * that another gateway run made (the device keeps it in flash across our restart).
   */
  #adopt(device: string, offerId: string, state: OfferState = 'booted'): Offer {
    const known = this.#offers.get(offerId);
    if (known) {
      if (known.device !== device)
        throw new OtaRefusal('unknown_offer', `offer ${offerId} was not made to ${device}`);
      return known;
    }
    const hello = this.#hellos.get(device);
    if (!hello) throw new OtaRefusal('unknown_offer', `no offer ${offerId} is known for ${device}`);
    const offer: Offer = {
      id: offerId,
      device,
      version: hello.fw,
      from: undefined,
      size: 0,
      sha256: '',
      credential: randomBytes(24),
      expires: 0,
      state,
    };
    this.#offers.set(offerId, offer);
    this.#current.set(device, offer);
    return offer;
  }
}

/** The rollout's idea of the image must be the catalog's. */
function checkRef(entry: CatalogEntry, image: OtaImageRef): void {
  const signed = entry.signature !== null;
  if (entry.version !== image.version || entry.size !== image.size || signed !== image.signed)
    throw new OtaRefusal(
      'image_mismatch',
      `the catalog has ${entry.sha256.slice(0, 12)}… as ${entry.version}, ${entry.size} bytes, ${signed ? 'signed' : 'unsigned'}; the request says ${image.version}, ${image.size} bytes, ${image.signed ? 'signed' : 'unsigned'}`,
    );
}

function sameSecret(expected: Buffer, given: string): boolean {
  const bytes = Buffer.from(given);
  return bytes.length === expected.length && timingSafeEqual(bytes, expected);
}

/** `http(s)://<host>:<port>` devices download from: the --public-url, or the address they reached us on. */
export function otaDownloadOrigin(
  publicUrl: string | undefined,
  https: boolean,
  port: number,
  localAddress: string | undefined,
): string {
  if (publicUrl) {
    const url = new URL(publicUrl);
    return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  }
  let host = localAddress?.replace(/^::ffff:(?=\d+\.)/, '');
  if (!host || host === '0.0.0.0' || host === '::') host = 'localhost';
  if (host.includes(':')) host = `[${host}]`;
  return `${https ? 'https' : 'http'}://${host}:${port}`;
}
