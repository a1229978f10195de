// The adapter supervisor: keeps noble scanning (duplicates allowed) whenever the
// adapter is powered on and no GATT work holds the radio, and brings it back after
// adapter resets, a dongle pulled out and put back, and noble errors, retrying
// with exponential backoff. While GATT work runs, active scanning is paused: on
// BlueZ/HCI a connection attempt during an active scan is the classic way to
// stall both.
import { EventEmitter } from 'node:events';
import { type AdapterState, compactMac, encodeAdStructures, type RawAdvertisement } from '@sentinel/protocol';
import type { Noble, Peripheral } from '@stoprocent/noble';
import { Backoff } from './backoff.js';
import type { Logger } from './log.js';
import { withTimeout } from './timeout.js';

export type ScanState = 'active' | 'paused' | 'stopped';

export interface ScanSupervisorOptions {
  log: Logger;
  /** first retry delay after a failure; doubles up to maxBackoffMs */
  backoffMs?: number;
  maxBackoffMs?: number;
}

export class ScanSupervisor extends EventEmitter<{
  advertisement: [RawAdvertisement];
  change: [];
}> {
  #adapter: AdapterState = 'unknown';
  #scanning = false;
  #starting = false;
  #running = false;
  #pauses = 0;
  #retry: NodeJS.Timeout | undefined;
  #watchdog: NodeJS.Timeout | undefined;
  readonly #scanBackoff: Backoff;
  readonly #adapterBackoff: Backoff;
  /** adapter resets the supervisor asked for, and scan starts that failed */
  restarts = 0;
  errors = 0;

  constructor(
    readonly noble: Noble,
    private readonly o: ScanSupervisorOptions,
  ) {
    super();
    this.#scanBackoff = new Backoff(o.backoffMs ?? 500, o.maxBackoffMs ?? 30_000);
    this.#adapterBackoff = new Backoff(o.backoffMs ?? 500, o.maxBackoffMs ?? 30_000);
  }

  get adapter(): AdapterState {
    return this.#adapter;
  }

  get state(): ScanState {
    if (this.#scanning) return 'active';
    return this.#pauses > 0 && this.#adapter === 'poweredOn' ? 'paused' : 'stopped';
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.noble.on('stateChange', this.#onState);
    this.noble.on('discover', this.#onDiscover);
    this.noble.on('scanStop', this.#onScanStop);
    this.noble.on('warning', this.#onWarning);
    // reading `state` initializes the bindings; the first stateChange follows
    this.#onState(this.noble.state);
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    clearTimeout(this.#retry);
    clearTimeout(this.#watchdog);
    this.noble.off('discover', this.#onDiscover);
    this.noble.off('stateChange', this.#onState);
    this.noble.off('scanStop', this.#onScanStop);
    if (this.#scanning) {
      this.#scanning = false;
      await adapterCall(this.noble.stopScanningAsync(), 2000).catch(() => undefined);
    }
    this.noble.off('warning', this.#onWarning);
    this.noble.stop();
  }

  /** GATT work starts: no active scan until every pause is resumed. */
  pause(): void {
    this.#pauses++;
    if (this.#pauses === 1) this.#reconcile();
  }

  resume(): void {
    if (this.#pauses === 0) return;
    this.#pauses--;
    if (this.#pauses === 0) this.#reconcile();
  }

  readonly #onWarning = (message: string) => this.o.log.debug({ warning: message }, 'noble warning');

  readonly #onState = (state: AdapterState) => {
    if (state === this.#adapter && state !== 'unknown') return;
    const previous = this.#adapter;
    this.#adapter = state;
    this.o.log.info({ adapter: state, previous }, 'adapter state');
    if (state === 'poweredOn') {
      clearTimeout(this.#watchdog);
      this.#watchdog = undefined;
      this.#adapterBackoff.reset();
    } else {
      this.#scanning = false;
      this.#armWatchdog();
    }
    this.#reconcile();
    this.emit('change');
  };

  /**
   * An adapter that stays away (a reset that did not come back, a dongle pulled
   * out) is reset again and again, further apart each time, until it is back.
   */
  #armWatchdog(): void {
    if (this.#watchdog || !this.#running) return;
    const delay = this.#adapterBackoff.next();
    this.#watchdog = setTimeout(() => {
      this.#watchdog = undefined;
      if (!this.#running || this.#adapter === 'poweredOn') return;
      this.restarts++;
      this.o.log.warn(
        { adapter: this.#adapter, attempt: this.#adapterBackoff.attempt },
        'adapter still down; resetting it',
      );
      try {
        this.noble.reset();
      } catch (error) {
        this.errors++;
        this.o.log.warn({ err: error }, 'adapter reset failed');
      }
      this.emit('change');
      this.#armWatchdog();
    }, delay);
    this.#watchdog.unref();
  }

  readonly #onScanStop = () => {
    if (!this.#scanning) return;
    this.#scanning = false;
    this.emit('change');
    // stopped from below (the HCI layer before a connection, an adapter hiccup): start again when wanted
    setImmediate(() => this.#reconcile());
  };

  readonly #onDiscover = (peripheral: Peripheral) => {
    const mac = compactMac(peripheral.address) ?? compactMac(peripheral.id);
    if (!mac) return;
    this.emit('advertisement', {
      mac,
      addressType: peripheral.addressType === 'public' ? 'public' : 'random',
      rssi: Math.max(-127, Math.min(127, Math.round(peripheral.rssi))),
      ts: Date.now(),
      ad: encodeAdStructures(peripheral.advertisement),
    });
  };

  #reconcile(): void {
    if (!this.#running || this.#starting) return;
    const want = this.#pauses === 0 && this.#adapter === 'poweredOn';
    if (want && !this.#scanning) {
      clearTimeout(this.#retry);
      this.#retry = undefined;
      this.#starting = true;
      adapterCall(this.noble.startScanningAsync([], true), 5000)
        .then(
          () => {
            this.#scanning = true;
            this.#scanBackoff.reset();
            this.o.log.debug('scanning');
          },
          (error: unknown) => {
            this.errors++;
            const delay = this.#scanBackoff.next();
            this.o.log.warn({ err: error, retry_ms: delay }, 'could not start scanning; retrying');
            this.#retry = setTimeout(() => this.#reconcile(), delay);
            this.#retry.unref();
          },
        )
        .finally(() => {
          this.#starting = false;
          this.emit('change');
          // the wish may have changed while starting (a pause, the adapter gone)
          setImmediate(() => this.#reconcile());
        });
    } else if (!want && this.#scanning) {
      this.#scanning = false;
      this.emit('change');
      if (this.#adapter === 'poweredOn') {
        this.noble.stopScanning();
      }
    }
  }
}

class TimeoutError extends Error {
  override name = 'TimeoutError';
}

/** an adapter call that must answer within `ms` */
const adapterCall = <T>(promise: Promise<T>, ms: number) =>
  withTimeout(promise, ms, () => new TimeoutError(`no answer from the adapter within ${ms} ms`));
