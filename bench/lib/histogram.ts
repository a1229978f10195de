// A bounded latency histogram: logarithmic buckets 1 % wide from 1 µs to
// 100 s (about 1,850 counters), so a run of any length costs the same memory
// and percentiles are within ±0.5 %.

const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
const MAX_MICROS = 100e6;
const BUCKETS = Math.ceil(Math.log(MAX_MICROS) / LOG_GROWTH) + 1;

export interface HistogramSnapshot {
  counts: number[];
  count: number;
  sumMs: number;
  minMs: number;
  maxMs: number;
}

export class LatencyHistogram {
  private counts = new Float64Array(BUCKETS);
  private count = 0;
  private sumMs = 0;
  private minMs = Number.POSITIVE_INFINITY;
  private maxMs = 0;

  record(latencyMs: number): void {
    const micros = Math.max(latencyMs * 1000, 1);
    const index = Math.min(BUCKETS - 1, Math.floor(Math.log(micros) / LOG_GROWTH));
    this.counts[index]! += 1;
    this.count += 1;
    this.sumMs += latencyMs;
    if (latencyMs < this.minMs) this.minMs = latencyMs;
    if (latencyMs > this.maxMs) this.maxMs = latencyMs;
  }

  get size(): number {
    return this.count;
  }

  snapshot(): HistogramSnapshot {
    return {
      counts: Array.from(this.counts),
      count: this.count,
      sumMs: this.sumMs,
      minMs: this.minMs,
      maxMs: this.maxMs,
    };
  }

  static fromSnapshot(snapshot: HistogramSnapshot): LatencyHistogram {
    const histogram = new LatencyHistogram();
    histogram.counts = Float64Array.from(snapshot.counts);
    histogram.count = snapshot.count;
    histogram.sumMs = snapshot.sumMs;
    histogram.minMs = snapshot.minMs;
    histogram.maxMs = snapshot.maxMs;
    return histogram;
  }

  /** The latency (ms) below which `p` percent of the samples lie; undefined when empty. */
  percentile(p: number): number | undefined {
    if (this.count === 0) return undefined;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) {
        // middle of the bucket (geometrically), clamped to what was really seen
        const mid = GROWTH ** (i + 0.5) / 1000;
        return Math.min(this.maxMs, Math.max(this.minMs, mid));
      }
    }
    return this.maxMs;
  }

  mean(): number | undefined {
    return this.count === 0 ? undefined : this.sumMs / this.count;
  }
}
