// The seam between the OTA device path (offers, downloads, progress: ./fleet.ts) and
// rollouts (./rollout/): a rollout drives devices only through OtaFleet, so the rollout
// engine can be tested and reasoned about without sockets, and the device path knows
// nothing of stages and batches.

/** An image from the OTA catalog (<data>/firmware/ota), as a rollout names it. */
export interface OtaImageRef {
  /** SHA-256 of the image, hex: its id in the catalog */
  sha256: string;
  version: string;
  size: number;
  signed: boolean;
}

/**
 * What a device reports while it updates (picket/<id>/ota/progress), plus what the gateway
 * observes itself:
 * - `downloading` (percent), `verifying`, `rebooting`: from the device;
 * - `booted`: the device said hello again running `version` (from its hello's `fw`);
 * - `confirmed`: the gateway confirmed the new image and the device acknowledged
 *   (it will no longer roll back);
 * - `rolled_back`: the device booted its previous slot (it said hello with the old version
 *   after an offer, or reported the rollback);
 * - `failed`: the device gave up (bad SHA-256, bad signature, no space, …) with a reason.
 */
export type OtaProgress =
  | {
      device: string;
      offer: string;
      state: 'downloading';
      percent: number;
      /** from the 2nd attempt on: the device started the download over, `retry` says why (bad SHA-256, …) */
      attempt?: number;
      retry?: string;
    }
  | { device: string; offer: string; state: 'verifying' | 'rebooting' }
  | { device: string; offer: string; state: 'booted'; version: string }
  | { device: string; offer: string; state: 'confirmed'; version: string }
  | { device: string; offer: string; state: 'rolled_back'; version: string; reason: string }
  | { device: string; offer: string; state: 'failed'; reason: string };

export interface OtaFleet {
  /** picket device ids (without the `picket-` prefix) known to the gateway, with what their last hello said */
  devices(): Promise<Array<{ device: string; fw: string; chip: string; model?: string; online: boolean }>>;
  /**
   * Offers `image` to `device` (picket/<id>/ota). Resolves with the offer id once the offer
   * is sent; rejects with a specific reason when it cannot be offered (unknown or offline
   * device, chip mismatch, unsigned image to a `signed_ota` device, downgrade).
   */
  offer(
    device: string,
    image: OtaImageRef,
    /** credentialTtlMs: how long the download URL works (default 15 minutes) */
    options?: { allowDowngrade?: boolean; credentialTtlMs?: number },
  ): Promise<string>;
  /** Tells a device that booted the new image to keep it (ESP-IDF: mark app valid). */
  confirm(device: string, offer: string): Promise<void>;
  /** Tells a device to go back to its previous slot (mark app invalid, roll back, reboot). */
  rollback(device: string, offer: string, reason: string): Promise<void>;
  /** Every progress report of every device; returns the unsubscribe function. */
  onProgress(listener: (progress: OtaProgress) => void): () => void;
}
