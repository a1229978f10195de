// The UART link between a host and the simulated chip. Each side has its own
// baud rate; when they differ by more than a receiver tolerates (a few percent)
// the receiver sees garbage, as on real hardware. With `lineRate` each byte
// also takes 10 bit times (8N1) at the sender's rate, for benchmarks.

/** UARTs resynchronise on every start bit; beyond ~3 % the sampling drifts out of the bit. */
const BAUD_TOLERANCE = 0.03;

export function baudsMatch(a: number, b: number): boolean {
  if (!(a > 0 && b > 0)) return false;
  return Math.abs(a - b) / Math.max(a, b) <= BAUD_TOLERANCE;
}

/**
 * What a receiver at `receiverBaud` makes of bytes sent at `senderBaud` when the
 * two do not match: a different number of bytes, none of them what was sent. The
 * values stay clear of 0xC0/0xDB, so garbage never forms a SLIP frame by luck.
 */
export function garble(bytes: Uint8Array, senderBaud: number, receiverBaud: number): Uint8Array {
  const ratio = senderBaud > 0 ? receiverBaud / senderBaud : 0;
  const count = Math.max(bytes.length === 0 ? 0 : 1, Math.round(bytes.length * Math.min(ratio, 4)));
  const out = new Uint8Array(count);
  let state = 0x5a;
  for (let i = 0; i < count; i++) {
    state = (state * 31 + (bytes[i % bytes.length] ?? 0) + i) & 0xff;
    out[i] = 0xe0 | (state & 0x1f);
  }
  return out;
}

type Deliver = (bytes: Uint8Array, senderBaud: number) => void;

/** One direction of the line: keeps order, and with line-rate timing, the wire's pace. */
export class UartDirection {
  private busyUntil = 0;
  private pending: { bytes: Uint8Array; senderBaud: number }[] = [];
  private scheduled = false;
  private generation = 0;

  constructor(
    private readonly deliver: Deliver,
    private readonly lineRate: () => boolean,
  ) {}

  send(bytes: Uint8Array, senderBaud: number): void {
    if (bytes.length === 0) return;
    if (this.lineRate() && senderBaud > 0) {
      const now = performance.now();
      const start = Math.max(now, this.busyUntil);
      this.busyUntil = start + (bytes.length * 10 * 1000) / senderBaud;
      const generation = this.generation;
      setTimeout(
        () => {
          if (generation === this.generation) this.deliver(bytes, senderBaud);
        },
        Math.max(0, this.busyUntil - now),
      );
      return;
    }
    this.pending.push({ bytes, senderBaud });
    if (this.scheduled) return;
    this.scheduled = true;
    const generation = this.generation;
    setImmediate(() => {
      this.scheduled = false;
      if (generation !== this.generation) return;
      const chunks = this.pending;
      this.pending = [];
      for (const chunk of chunks) this.deliver(chunk.bytes, chunk.senderBaud);
    });
  }

  /** Forgets bytes in flight (the line was cut or the receiver reset its FIFO). */
  clear(): void {
    this.generation++;
    this.pending = [];
    this.scheduled = false;
    this.busyUntil = 0;
  }
}
