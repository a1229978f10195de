// SLIP framing ("Low Level Protocol" of esptool's serial protocol page): each
// packet starts and ends with 0xC0; inside, 0xC0 → 0xDB 0xDC and 0xDB → 0xDB 0xDD.

export const SLIP_END = 0xc0;
export const SLIP_ESC = 0xdb;
export const SLIP_ESC_END = 0xdc;
export const SLIP_ESC_ESC = 0xdd;

export function slipEncode(packet: Uint8Array): Uint8Array {
  let extra = 0;
  for (const byte of packet) if (byte === SLIP_END || byte === SLIP_ESC) extra++;
  const out = new Uint8Array(packet.length + extra + 2);
  let j = 0;
  out[j++] = SLIP_END;
  for (const byte of packet) {
    if (byte === SLIP_END) {
      out[j++] = SLIP_ESC;
      out[j++] = SLIP_ESC_END;
    } else if (byte === SLIP_ESC) {
      out[j++] = SLIP_ESC;
      out[j++] = SLIP_ESC_ESC;
    } else {
      out[j++] = byte;
    }
  }
  out[j] = SLIP_END;
  return out;
}

export type SlipEvent =
  | { kind: 'packet'; packet: Uint8Array }
  /** bytes seen outside a frame (boot noise, garbage) or a frame with a bad escape */
  | { kind: 'noise'; bytes: number; reason: 'outside-frame' | 'bad-escape' };

/**
 * Streaming decoder. Bytes outside a frame are counted as noise, as the ROM
 * ignores them; an invalid escape drops the frame being read.
 */
export class SlipDecoder {
  private inFrame = false;
  private escaping = false;
  private buffer: number[] = [];
  private noise = 0;

  constructor(private readonly emit: (event: SlipEvent) => void) {}

  push(bytes: Uint8Array): void {
    for (const byte of bytes) this.pushByte(byte);
    this.flushNoise();
  }

  reset(): void {
    this.inFrame = false;
    this.escaping = false;
    this.buffer = [];
    this.noise = 0;
  }

  private pushByte(byte: number): void {
    if (!this.inFrame) {
      if (byte === SLIP_END) {
        this.flushNoise();
        this.inFrame = true;
        this.buffer = [];
      } else {
        this.noise++;
      }
      return;
    }
    if (this.escaping) {
      this.escaping = false;
      if (byte === SLIP_ESC_END) this.buffer.push(SLIP_END);
      else if (byte === SLIP_ESC_ESC) this.buffer.push(SLIP_ESC);
      else {
        this.inFrame = false;
        this.buffer = [];
        this.emit({ kind: 'noise', bytes: 1, reason: 'bad-escape' });
      }
      return;
    }
    if (byte === SLIP_ESC) {
      this.escaping = true;
    } else if (byte === SLIP_END) {
      // An empty frame (two 0xC0 in a row) is the start of the next one.
      if (this.buffer.length === 0) return;
      const packet = Uint8Array.from(this.buffer);
      this.buffer = [];
      this.inFrame = false;
      this.emit({ kind: 'packet', packet });
    } else {
      this.buffer.push(byte);
    }
  }

  private flushNoise(): void {
    if (this.noise === 0) return;
    const bytes = this.noise;
    this.noise = 0;
    this.emit({ kind: 'noise', bytes, reason: 'outside-frame' });
  }
}
