// The classic two-transistor auto-reset circuit of ESP32 dev boards (and the
// "Entering the Bootloader" section of esptool's docs): DTR and RTS each drive a
// transistor, cross-coupled so that asserting both at once changes nothing.
//
//   DTR RTS │ EN   IO0
//   ────────┼──────────
//    0   0  │ high high   (run)
//    0   1  │ LOW  high   (held in reset)
//    1   0  │ high LOW    (boot strap: download mode on the next EN rise)
//    1   1  │ high high
//
// The chip samples IO0 as EN rises: low → ROM serial bootloader, high → boot from flash.

export interface SerialSignals {
  /** true = asserted (the host's DTR/RTS "on") */
  dtr: boolean;
  rts: boolean;
}

export interface ChipPins {
  /** true = high (chip running) */
  en: boolean;
  /** true = high (normal boot) */
  io0: boolean;
}

export function pinsFor({ dtr, rts }: SerialSignals): ChipPins {
  return { en: !(rts && !dtr), io0: !(dtr && !rts) };
}
