import { describe, expect, it } from 'vitest';
import { LatencyStats, percentile, summarizeLatencies } from '../../src/demo/latency-stats.js';

describe('latency stats', () => {
  it('takes nearest-rank percentiles', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 50)).toBe(50);
    expect(percentile(sorted, 99)).toBe(99);
    expect(percentile(sorted, 100)).toBe(100);
    expect(percentile([7], 50)).toBe(7);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBe(0);
    expect(percentile([1, 2, 3], 0)).toBe(1);
  });

  it('summarises samples in any order, rounded to 0.01 ms', () => {
    const stats = new LatencyStats();
    for (const ms of [30.123, 10, 20, 1000, 15]) stats.add(ms);
    expect(stats.count).toBe(5);
    expect(stats.summary()).toEqual({ count: 5, p50: 20, p99: 1000, max: 1000, mean: 215.02 });
    expect(stats.samples()).toEqual([30.123, 10, 20, 1000, 15]);
  });

  it('is all zero without samples', () => {
    expect(summarizeLatencies([])).toEqual({ count: 0, p50: 0, p99: 0, max: 0, mean: 0 });
  });
});
