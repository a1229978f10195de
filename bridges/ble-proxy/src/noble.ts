// Loading noble. @stoprocent/noble is the maintained fork (prebuilt HCI bindings,
// TypeScript types); its `withBindings()` only takes a binding name, so a custom
// bindings object (the simulator's) goes to noble's own Noble class directly.
// Nothing here runs at import time: the gateway imports this package's wire
// format without loading a radio.
import { createRequire } from 'node:module';
import type { Noble } from '@stoprocent/noble';

const require = createRequire(import.meta.url);

/** The event emitter noble drives (lib/hci-socket/bindings.js and the simulator's). */
export type NobleBindings = import('node:events').EventEmitter & { start(): void };

export interface HciOptions {
  /** /dev/hci<N>; default 0 */
  deviceId?: number | undefined;
}

/** Noble over the given bindings object (a simulator), or over the host's HCI adapter. */
export function createNoble(bindings?: NobleBindings, hci: HciOptions = {}): Noble {
  if (bindings) {
    const NobleClass = require('@stoprocent/noble/lib/noble.js') as new (b: unknown) => Noble;
    return new NobleClass(bindings);
  }
  const { withBindings } = require('@stoprocent/noble') as typeof import('@stoprocent/noble');
  return withBindings('hci', hci.deviceId === undefined ? {} : { deviceId: hci.deviceId });
}
