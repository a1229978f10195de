// Incremental zlib inflate for FLASH_DEFL_DATA: each block's output is available
// before the block is answered, as the ROM (and the stub) decompress as they go.
import { createInflate, type Inflate } from 'node:zlib';

export type InflateStep = { ok: true; output: Uint8Array } | { ok: false; error: Error };

export class StreamingInflater {
  private readonly stream: Inflate = createInflate();
  private chunks: Buffer[] = [];
  private failure: Error | undefined;
  private failed: (() => void) | undefined;

  constructor() {
    this.stream.on('data', (chunk: Buffer) => this.chunks.push(chunk));
    this.stream.on('error', (error: Error) => {
      this.failure = error;
      this.failed?.();
    });
  }

  /** Feeds compressed bytes; resolves with what they decompressed to. */
  async push(data: Uint8Array): Promise<InflateStep> {
    if (this.failure) return { ok: false, error: this.failure };
    await new Promise<void>((resolve) => {
      // zlib does not call the write callback when the data is corrupt; the error event does instead
      this.failed = resolve;
      this.stream.write(data, () => resolve());
    });
    this.failed = undefined;
    if (this.failure) return { ok: false, error: this.failure };
    const output = Buffer.concat(this.chunks);
    this.chunks = [];
    return { ok: true, output: new Uint8Array(output.buffer, output.byteOffset, output.byteLength) };
  }

  close(): void {
    this.stream.removeAllListeners('data');
    this.stream.on('error', () => {});
    this.stream.destroy();
  }
}
