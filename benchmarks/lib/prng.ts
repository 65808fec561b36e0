import { SeededRandom } from '../../src/workload/seeded-random.js';

/** The project's one seeded PRNG, with `int(min, max)` inclusive as the benchmarks draw sizes. */
export class Prng extends SeededRandom {
  /** An integer in [min, max], both inclusive. */
  override int(min: number, max?: number): number {
    return max === undefined ? super.int(min) : this.range(min, max);
  }
}

export interface KeyValueSet {
  keys: Uint8Array[];
  values: Uint8Array[];
  keyBytes: number;
  valueBytes: number;
}

export interface KeyValueShape {
  minKey: number;
  maxKey: number;
  minValue: number;
  maxValue: number;
}

/**
 * `count` distinct pseudo-random keys and their values, in generation (random) order.
 * A repeated key (vanishingly rare at 16+ bytes) is drawn again, so the count is exact.
 */
export function generateKeyValues(count: number, seed: number, shape: KeyValueShape): KeyValueSet {
  const rng = new Prng(seed);
  const seen = new Set<string>();
  const keys: Uint8Array[] = [];
  const values: Uint8Array[] = [];
  let keyBytes = 0;
  let valueBytes = 0;
  while (keys.length < count) {
    const key = rng.bytes(rng.int(shape.minKey, shape.maxKey));
    const id = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
    if (seen.has(id)) continue;
    seen.add(id);
    const value = rng.bytes(rng.int(shape.minValue, shape.maxValue));
    keys.push(key);
    values.push(value);
    keyBytes += key.length;
    valueBytes += value.length;
  }
  return { keys, values, keyBytes, valueBytes };
}
