// Flash progress and failures as one discriminated union (modelled on esp-web-tools'
// FlashState), so the CLI and the browser page render exactly the same states.

/** Why a flash run failed; each code has one likely cause and one fix (FAILURE_HINTS). */
export type FlashErrorCode =
  | 'no_port'
  | 'no_sync'
  | 'wrong_boot_mode'
  | 'wrong_chip'
  | 'port_busy'
  | 'port_vanished'
  | 'port_closed'
  | 'baud_unanswered'
  | 'checksum_error'
  | 'md5_mismatch'
  | 'too_big'
  | 'flash_failed'
  | 'unsupported';

export interface DetectedChip {
  /** esptool's chip name, e.g. "ESP32-S3" */
  chip: string;
  /** our short chip id ("esp32s3"), as manifests and images name it */
  family: string;
  description: string;
  mac: string;
  features: string[];
}

export interface FlashPart {
  offset: number;
  data: Uint8Array;
  /** shown in progress ("bootloader.bin"); defaults to the offset */
  name?: string;
}

export type FlashState =
  | { state: 'connecting' }
  | { state: 'detected'; info: DetectedChip }
  | { state: 'stub'; running: boolean }
  | { state: 'baud'; baud: number }
  | { state: 'erasing' }
  | {
      state: 'writing';
      part: number;
      parts: number;
      name: string;
      offset: number;
      /** bytes of this part sent over the wire so far (compressed bytes when compressed) */
      written: number;
      total: number;
      compressed: boolean;
    }
  | { state: 'verifying'; part: number; parts: number; name: string; offset: number }
  | { state: 'reading'; offset: number; read: number; total: number }
  | { state: 'resetting' }
  | { state: 'done'; bytes: number; ms: number }
  | { state: 'error'; code: FlashErrorCode; message: string; hint: string };

export type FlashStateListener = (state: FlashState) => void;

/** The likely cause and the fix for each failure, in the words a user can act on. */
export const FAILURE_HINTS: Record<FlashErrorCode, string> = {
  no_port:
    'there is no serial port there: plug the board in and check the path (ls /dev/ttyUSB* /dev/ttyACM* on Linux, /dev/cu.* on macOS)',
  no_sync:
    'the chip did not answer: check the cable (a data cable, not charge-only) and the port, then hold BOOT, tap EN (RESET), release BOOT and try again',
  wrong_boot_mode:
    'the chip booted its app instead of the serial bootloader: hold BOOT (IO0 low) while you tap EN (RESET), release BOOT, then try again',
  wrong_chip: 'the image was built for another chip: pick the build for the chip that was detected',
  port_busy:
    'another program holds the serial port: close serial monitors (idf.py monitor, Arduino, screen, another browser tab) and try again',
  port_vanished:
    'the serial port disappeared: the board reset or re-enumerated on USB (native USB chips do this); pick the port again, and if it keeps vanishing, hold BOOT while plugging it in',
  port_closed:
    'the serial port closed in the middle of the transfer: keep the board plugged in and the port open until flashing is done, then flash again',
  baud_unanswered:
    'the chip did not answer at the faster baud rate: use a lower one (--baud 115200 or 460800) or a better USB-serial adapter',
  checksum_error:
    'the chip received corrupted data (checksum error): use a shorter or better USB cable, a lower baud rate, and flash again',
  md5_mismatch:
    'the flash does not hold what was written (MD5 differs): flash again; if it repeats, the flash chip may be failing or write-protected',
  too_big: 'the image does not fit: check the offsets, or use a board with a bigger flash',
  flash_failed: 'the chip refused a flash command: check the offsets and the flash size, then flash again',
  unsupported: 'this operation needs the flasher stub: run without --no-stub',
};

/** One line per state, for the CLI's plain output and the page's log. */
export function describeState(s: FlashState): string {
  switch (s.state) {
    case 'connecting':
      return 'connecting to the bootloader…';
    case 'detected':
      return `detected ${s.info.description}, MAC ${s.info.mac}${s.info.features.length ? ` (${s.info.features.join(', ')})` : ''}`;
    case 'stub':
      return s.running ? 'flasher stub running' : 'using the ROM loader (no stub)';
    case 'baud':
      return `baud rate ${s.baud}`;
    case 'erasing':
      return 'erasing the whole flash…';
    case 'writing':
      return `writing ${s.name} at 0x${s.offset.toString(16)} (${s.part + 1}/${s.parts}): ${percent(s.written, s.total)}%${s.compressed ? ' (compressed)' : ''}`;
    case 'verifying':
      return `verifying ${s.name} at 0x${s.offset.toString(16)} by MD5`;
    case 'reading':
      return `reading 0x${s.offset.toString(16)}: ${percent(s.read, s.total)}%`;
    case 'resetting':
      return 'resetting into the app';
    case 'done':
      return `done: ${s.bytes} bytes in ${(s.ms / 1000).toFixed(1)} s`;
    case 'error':
      return `${s.message} — ${s.hint}`;
  }
}

export function percent(part: number, total: number): number {
  return total === 0 ? 100 : Math.floor((part / total) * 100);
}
