/** Percentiles of a set of commit latencies, in milliseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

/** Collects latency samples (milliseconds) and summarises them with nearest-rank percentiles. */
export class LatencyStats {
  readonly #samples: number[] = [];

  add(ms: number): void {
    this.#samples.push(ms);
  }

  get count(): number {
    return this.#samples.length;
  }

  /** The samples so far, in the order they were added. */
  samples(): readonly number[] {
    return this.#samples;
  }

  summary(): LatencySummary {
    return summarizeLatencies(this.#samples);
  }
}

/**
 * Nearest-rank percentile of ascending `sorted` values: the smallest value with at least
 * p% of the values at or below it. 0 for no values.
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** count, p50, p99, max and mean, rounded to 0.01 ms; all zero for no samples. */
export function summarizeLatencies(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    p50: round2(percentile(sorted, 50)),
    p99: round2(percentile(sorted, 99)),
    max: round2(sorted.length === 0 ? 0 : sorted[sorted.length - 1]),
    mean: round2(sorted.length === 0 ? 0 : sum / sorted.length),
  };
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
