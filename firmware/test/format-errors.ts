// Shared by the format tests: one way to assert a typed format error, its reason and its message.

import { expect } from 'vitest';
import type { FirmwareFormatError } from '../src/index.js';

/** An assertion that `work` throws a `type` with `reason` and a message matching `message`. */
export function formatErrorExpecter<E extends FirmwareFormatError>(type: new (...args: never[]) => E) {
  return (work: () => unknown, reason: E['reason'], message: RegExp): void => {
    try {
      work();
    } catch (error) {
      expect(error).toBeInstanceOf(type);
      expect((error as E).reason).toBe(reason);
      expect((error as Error).message).toMatch(message);
      return;
    }
    throw new Error(`expected ${type.name} (${reason})`);
  };
}
