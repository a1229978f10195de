// The flasher's typed errors: one class with a code from FlashErrorCode, the hint that
// goes with it and the underlying cause. Callers switch on `code`, never on text.

import { FAILURE_HINTS, type FlashErrorCode, type FlashState } from './state.js';

export class FlasherError extends Error {
  override name = 'FlasherError';
  readonly hint: string;
  constructor(
    readonly code: FlashErrorCode,
    message: string,
    options?: { cause?: unknown; hint?: string },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.hint = options?.hint ?? FAILURE_HINTS[code];
  }

  toState(): Extract<FlashState, { state: 'error' }> {
    return { state: 'error', code: this.code, message: this.message, hint: this.hint };
  }
}

/**
 * A port that failed or closed under esptool-js. Port implementations throw these so that
 * the flasher can tell "the port went away" from "the chip said no".
 */
export class PortError extends Error {
  override name = 'PortError';
  constructor(
    readonly kind: 'busy' | 'vanished' | 'closed' | 'not_found',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
