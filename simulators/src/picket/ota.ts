// The device side of picket OTA (docs/ota.md), modelled on ESP-IDF's app update and
// bootloader rollback: two app slots, the offered image downloaded over HTTP into the
// inactive one (resumed with Range from the last byte written after a power cut),
// checked against the offer's SHA-256 and — with signed OTA on — its secure boot v2
// signature, then a reboot into it in pending-verify. The gateway confirms once it saw
// the device back on the new version (esp_ota_mark_app_valid_cancel_rollback); without
// a confirm within the window, or when told to, the device marks the image invalid and
// boots the previous slot (esp_ota_mark_app_invalid_rollback_and_reboot).
//
// Fault modes on demand: a corrupted download, a power cut mid-download, an image that
// boots but never reaches the gateway, an image that crashes at boot.
import { createHash } from 'node:crypto';
import {
  hasSignatureSector,
  inspectRelease,
  type OtaMessage,
  type OtaProgressMessage,
  type SigningPublicKey,
  verifySignedImage,
} from '@sentinel/firmware';
import type { Cancel, Clock } from '../clock.js';

export type OtaFault =
  /** flips a byte of the next `times` downloads (default 1), so their SHA-256 is wrong */
  | { kind: 'corrupt-download'; times?: number }
  /** cuts the power once when `atByte` bytes of the image are written; it resumes from there */
  | { kind: 'power-loss'; atByte: number }
  /** the next image boots but never reaches the gateway: rolled back after the confirm window */
  | { kind: 'never-reconnects' }
  /** the next image crashes at boot: the bootloader boots the previous slot */
  | { kind: 'crash-at-boot' };

export interface PicketOtaOptions {
  /** bytes of each OTA slot (default 1.5 MiB + 512 KiB = 0x200000), declared in the hello */
  slotSize?: number;
  /** verify secure boot v2 signatures and take signed images only (hello `signed_ota: true`) */
  signedOta?: boolean;
  /** the public keys whose digests are in the simulated eFuse; without them any valid signature passes */
  trustedKeys?: readonly SigningPublicKey[];
  /** how long a new image waits for the gateway's confirm before rolling back (default 60 s) */
  confirmWindowMs?: number;
  /** download attempts per offer before reporting `failed` (default 3) */
  downloadAttempts?: number;
  /** how long a reboot keeps the device offline (default 50 ms) */
  rebootMs?: number;
}

/** What the OTA agent needs from its device. */
export interface OtaHost {
  readonly id: string;
  readonly chip: string;
  /** the device's own token: downloads carry `Authorization: Bearer <id>:<token>` */
  readonly token: string;
  readonly clock: Clock;
  /** sends now, or when the device is next connected */
  report(progress: OtaProgressMessage): void;
  /** goes offline for `offMs`, then runs `onBoot` before connecting again */
  restart(offMs: number, onBoot: () => void): void;
  event(event: OtaEvent): void;
}

/** What tests and tools watch (PicketDevice emits them as `ota`). */
export type OtaEvent =
  | { kind: 'download'; offer: string; start: number; status: number }
  /** the last byte of a download arrived (before the checks): where a bench stops its clock */
  | { kind: 'downloaded'; offer: string; bytes: number }
  | { kind: 'rejected'; offer: string; reason: string }
  | { kind: 'power-loss'; offer: string; atByte: number }
  | { kind: 'booted'; version: string; slot: number; pending: boolean }
  | { kind: 'confirmed'; offer: string; version: string }
  | { kind: 'rolled-back'; offer: string; version: string; reason: string };

type Offer = Extract<OtaMessage, { op: 'offer' }>;

interface Slot {
  version: string;
  /** the image the slot holds (undefined for the factory image we were flashed with) */
  bytes?: Uint8Array;
}

/** A download under way or interrupted: what is in the inactive slot so far. */
interface Download {
  offer: Offer;
  chunks: Buffer[];
  received: number;
  attempt: number;
  abort?: AbortController;
  /** why the last attempt was thrown away */
  retry?: string;
}

const DEFAULTS = { slotSize: 0x200000, confirmWindowMs: 60_000, downloadAttempts: 3, rebootMs: 50 };

export class OtaAgent {
  readonly slotSize: number;
  readonly signedOta: boolean;
  readonly #trusted: readonly SigningPublicKey[] | undefined;
  readonly #confirmWindowMs: number;
  readonly #attempts: number;
  readonly #rebootMs: number;
  readonly #slots: [Slot, Slot];
  #running = 0;
  /** the offer whose image runs unconfirmed (pending verify) */
  #pending: { offer: Offer; previous: number } | undefined;
  #download: Download | undefined;
  #cancelWindow: Cancel | undefined;
  #faults: OtaFault[] = [];
  #stopped = false;

  constructor(
    private readonly host: OtaHost,
    version: string,
    options: PicketOtaOptions = {},
  ) {
    this.slotSize = options.slotSize ?? DEFAULTS.slotSize;
    this.signedOta = options.signedOta ?? false;
    this.#trusted = options.trustedKeys;
    this.#confirmWindowMs = options.confirmWindowMs ?? DEFAULTS.confirmWindowMs;
    this.#attempts = options.downloadAttempts ?? DEFAULTS.downloadAttempts;
    this.#rebootMs = options.rebootMs ?? DEFAULTS.rebootMs;
    this.#slots = [{ version }, { version: '' }];
  }

  /** the version of the running slot: what the hello says */
  get version(): string {
    return this.#slots[this.#running]!.version;
  }

  get runningSlot(): number {
    return this.#running;
  }

  /** the offer whose image runs unconfirmed, for the hello's `ota_pending` */
  get pendingOffer(): string | undefined {
    return this.#pending?.offer.offer;
  }

  /** Arms a fault for the next update(s). */
  inject(fault: OtaFault): void {
    this.#faults.push(fault);
  }

  stop(): void {
    this.#stopped = true;
    this.#download?.abort?.abort();
    this.#cancelWindow?.();
  }

  /** Connected again (after a boot or a lost link): start the confirm window, go on downloading. */
  connected(): void {
    if (this.#pending)
      this.host.report({ offer: this.#pending.offer.offer, state: 'pending_verify', version: this.version });
    const download = this.#download;
    if (download && !download.abort) void this.#fetch(download);
  }

  handle(message: OtaMessage): void {
    if (message.op === 'offer') this.#offered(message);
    else if (message.op === 'confirm') this.#confirm(message.offer);
    else this.#rollbackRequested(message.offer, message.reason);
  }

  #offered(offer: Offer): void {
    if (this.#pending) {
      this.host.report({
        offer: offer.offer,
        state: 'failed',
        reason: `pending_verify: ${this.version} (offer ${this.#pending.offer.offer}) is not confirmed yet`,
      });
      return;
    }
    if (this.#download?.offer.offer === offer.offer) return; // offered again while downloading
    this.#download?.abort?.abort();
    if (offer.size > this.slotSize) {
      this.#fail(offer, `too_large: ${offer.size} bytes do not fit the ${this.slotSize}-byte OTA slot`);
      return;
    }
    if (this.signedOta && !offer.signed) {
      this.#fail(offer, 'unsigned: this device takes signed images only');
      return;
    }
    const download: Download = { offer, chunks: [], received: 0, attempt: 1 };
    this.#download = download;
    void this.#fetch(download);
  }

  async #fetch(download: Download): Promise<void> {
    const { offer } = download;
    const abort = new AbortController();
    download.abort = abort;
    const start = download.received;
    const headers: Record<string, string> = { authorization: `Bearer ${this.host.id}:${this.host.token}` };
    if (start > 0) headers.range = `bytes=${start}-`;
    const powerLoss = this.#takeFault('power-loss');
    let reported = -1;
    const percent = () => Math.floor((download.received / offer.size) * 100);
    const progress = () => {
      // every 10 %: as often as firmware would bother the gateway
      const step = Math.floor(percent() / 10) * 10;
      if (step === reported) return;
      reported = step;
      this.host.report({
        offer: offer.offer,
        state: 'downloading',
        percent: step,
        ...(download.attempt > 1 ? { attempt: download.attempt } : {}),
        ...(download.retry ? { retry: download.retry } : {}),
      });
    };
    try {
      const response = await fetch(offer.url, { headers, signal: abort.signal });
      this.host.event({ kind: 'download', offer: offer.offer, start, status: response.status });
      const expected = start > 0 ? 206 : 200;
      if (response.status !== expected) {
        const body = (await response.text().catch(() => '')).slice(0, 160);
        this.#finishDownload(download);
        this.#fail(offer, `download_refused: HTTP ${response.status} ${body}`);
        return;
      }
      progress();
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        // a view, not a copy: fetch hands out a fresh chunk each time
        let piece = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        if (powerLoss && download.received + piece.length >= powerLoss.atByte) {
          piece = piece.subarray(0, powerLoss.atByte - download.received);
          download.chunks.push(piece);
          download.received += piece.length;
          abort.abort();
          download.abort = undefined;
          this.host.event({ kind: 'power-loss', offer: offer.offer, atByte: download.received });
          // what was written to flash stays; the offer is in NVS: resume after the boot
          this.host.restart(this.#rebootMs, () => {});
          return;
        }
        download.chunks.push(piece);
        download.received += piece.length;
        if (download.received > offer.size) break;
        progress();
      }
    } catch (error) {
      if (this.#stopped || abort.signal.aborted) return;
      // the link broke mid-way: try again from the last byte, as long as attempts are left
      download.abort = undefined;
      if (download.attempt >= this.#attempts) {
        this.#finishDownload(download);
        this.#fail(offer, `download_failed: ${(error as Error).message}`);
        return;
      }
      download.attempt++;
      download.retry = `connection lost: ${(error as Error).message}`;
      void this.#fetch(download);
      return;
    }
    download.abort = undefined;
    this.host.event({ kind: 'downloaded', offer: offer.offer, bytes: download.received });
    this.#verify(download);
  }

  #verify(download: Download): void {
    const { offer } = download;
    this.host.report({ offer: offer.offer, state: 'verifying' });
    // what the inactive slot holds now: one copy of the chunks, seen as a plain Uint8Array
    // (a Buffer's slice() shares memory, where image code expects a copy)
    const joined = Buffer.concat(download.chunks, download.received);
    const bytes = new Uint8Array(joined.buffer, joined.byteOffset, joined.byteLength);
    const corrupt = this.#takeFault('corrupt-download');
    if (corrupt && bytes.length > 0) {
      const at = Math.floor(bytes.length / 2);
      bytes[at] = bytes[at]! ^ 0xff;
    }
    const problem = this.#check(offer, bytes);
    if (problem?.startsWith('sha256_mismatch') && download.attempt < this.#attempts) {
      // a damaged transfer: start over from the first byte
      this.host.event({ kind: 'rejected', offer: offer.offer, reason: problem });
      download.attempt++;
      download.retry = problem;
      download.chunks = [];
      download.received = 0;
      void this.#fetch(download);
      return;
    }
    this.#finishDownload(download);
    if (problem) {
      this.#fail(offer, problem);
      return;
    }
    const target = 1 - this.#running;
    this.#slots[target] = { version: offer.version, bytes };
    this.host.report({ offer: offer.offer, state: 'rebooting' });
    const previous = this.#running;
    this.host.restart(this.#rebootMs, () => this.#bootNew(offer, target, previous));
  }

  /** Why the image must not be booted, or undefined. */
  #check(offer: Offer, bytes: Uint8Array): string | undefined {
    if (bytes.length !== offer.size)
      return `size_mismatch: got ${bytes.length} bytes, the offer says ${offer.size}`;
    const digest = createHash('sha256').update(bytes).digest('hex');
    if (digest !== offer.sha256)
      return `sha256_mismatch: the download hashes to ${digest.slice(0, 12)}…, the offer says ${offer.sha256.slice(0, 12)}…`;
    let release: ReturnType<typeof inspectRelease>;
    try {
      release = inspectRelease(bytes);
    } catch (error) {
      return `bad_image: ${(error as Error).message}`;
    }
    if (release.chip !== this.host.chip)
      return `wrong_chip: the image is for ${release.chip}, this is an ${this.host.chip}`;
    if (release.version !== offer.version)
      return `wrong_version: the image says ${release.version}, the offer ${offer.version}`;
    if (this.signedOta || offer.signed) {
      if (!hasSignatureSector(bytes)) return 'unsigned: the image carries no secure boot v2 signature';
      const check = verifySignedImage(bytes, this.#trusted ? { trusted: this.#trusted } : {});
      if (!check.valid) return `bad_signature: ${check.reason}`;
    }
    return undefined;
  }

  #bootNew(offer: Offer, slot: number, previous: number): void {
    const fault = this.#takeFault('crash-at-boot') ?? this.#takeFault('never-reconnects');
    this.#running = slot;
    this.#pending = { offer, previous };
    if (fault?.kind === 'crash-at-boot') {
      // the bootloader finds the pending image aborted on the next reset and boots the other slot
      this.host.event({ kind: 'booted', version: offer.version, slot, pending: true });
      this.host.restart(this.#rebootMs, () =>
        this.#bootPrevious(`the new image ${offer.version} crashed at boot; the bootloader went back`),
      );
      return;
    }
    this.host.event({ kind: 'booted', version: offer.version, slot, pending: true });
    if (fault?.kind === 'never-reconnects') {
      // running, but it cannot reach the gateway: offline until its own window runs out
      this.host.restart(this.#confirmWindowMs, () =>
        this.#bootPrevious(
          `the new image ${offer.version} was not confirmed within ${this.#confirmWindowMs} ms; marked invalid and rolled back`,
        ),
      );
      return;
    }
    this.#cancelWindow = this.host.clock.schedule(this.#confirmWindowMs, () =>
      this.#rollback(
        `the new image ${offer.version} was not confirmed within ${this.#confirmWindowMs} ms; marked invalid and rolled back`,
      ),
    );
  }

  #confirm(offerId: string): void {
    if (this.#pending?.offer.offer !== offerId) return; // not ours, or confirmed already
    this.#cancelWindow?.();
    const { offer } = this.#pending;
    this.#pending = undefined;
    this.host.event({ kind: 'confirmed', offer: offerId, version: this.version });
    this.host.report({ offer: offer.offer, state: 'confirmed', version: this.version });
  }

  #rollbackRequested(offerId: string, reason: string): void {
    if (this.#pending?.offer.offer === offerId) {
      this.#rollback(`rolled back as the gateway asked: ${reason}`);
      return;
    }
    const download = this.#download;
    if (download?.offer.offer === offerId) {
      download.abort?.abort();
      this.#finishDownload(download);
      this.#fail(download.offer, `cancelled: ${reason}`);
    }
  }

  /** esp_ota_mark_app_invalid_rollback_and_reboot */
  #rollback(reason: string): void {
    this.#cancelWindow?.();
    this.host.restart(this.#rebootMs, () => this.#bootPrevious(reason));
  }

  #bootPrevious(reason: string): void {
    const pending = this.#pending;
    if (!pending) return;
    this.#pending = undefined;
    this.#running = pending.previous;
    this.host.event({ kind: 'booted', version: this.version, slot: this.#running, pending: false });
    this.host.event({ kind: 'rolled-back', offer: pending.offer.offer, version: this.version, reason });
    this.host.report({ offer: pending.offer.offer, state: 'rolled_back', version: this.version, reason });
  }

  #fail(offer: Offer, reason: string): void {
    this.host.event({ kind: 'rejected', offer: offer.offer, reason });
    this.host.report({ offer: offer.offer, state: 'failed', reason: reason.slice(0, 256) });
  }

  #finishDownload(download: Download): void {
    if (this.#download === download) this.#download = undefined;
  }

  #takeFault<K extends OtaFault['kind']>(kind: K): Extract<OtaFault, { kind: K }> | undefined {
    const index = this.#faults.findIndex((f) => f.kind === kind);
    if (index < 0) return undefined;
    const fault: OtaFault = this.#faults[index]!;
    if (fault.kind === 'corrupt-download' && (fault.times ?? 1) > 1) {
      this.#faults[index] = { kind: 'corrupt-download', times: (fault.times ?? 1) - 1 };
    } else this.#faults.splice(index, 1);
    return fault as Extract<OtaFault, { kind: K }>;
  }
}
