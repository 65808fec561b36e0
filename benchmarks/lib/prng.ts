/**
 * mulberry32: a tiny, fast, seeded 32-bit PRNG. Not for cryptography; it only has to make
 * the same keys and values for the same seed on every machine.
 */
export class Prng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** The next 32-bit unsigned integer. */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** An integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + (this.next() % (max - min + 1));
  }

  /** `n` pseudo-random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      const r = this.next();
      out[i] = r & 0xff;
      out[i + 1] = (r >>> 8) & 0xff;
      out[i + 2] = (r >>> 16) & 0xff;
      out[i + 3] = r >>> 24;
    }
    if (i < n) {
      let r = this.next();
      for (; i < n; i++) {
        out[i] = r & 0xff;
        r >>>= 8;
      }
    }
    return out;
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
