import { SeededRandom } from '../../src/workload/seeded-random.js';

/** The project's seeded PRNG (src/workload/seeded-random.ts), with `next()` in [0, 1), so property tests are repeatable. */
export class Rng extends SeededRandom {
  /** Uniform in [0, 1). */
  next(): number {
    return this.float();
  }
}

/**
 * A key pool that stresses ordering: keys that are prefixes of one another, and keys made of
 * 0x00 and 0xff bytes.
 */
export function trickyKeys(rng: Rng, n: number): Uint8Array[] {
  const out = new Map<string, Uint8Array>();
  const add = (k: Uint8Array) => {
    if (k.length > 0) out.set(Buffer.from(k).toString('hex'), k);
  };
  for (const k of [[0], [0, 0], [0xff], [0xff, 0xff], [0, 0xff], [0xff, 0], [1], [1, 0]])
    add(new Uint8Array(k));
  while (out.size < n) {
    const r = rng.int(4);
    if (r === 0) {
      // a prefix or an extension of an existing key
      const base = rng.pick([...out.values()]);
      add(
        rng.int(2) === 0
          ? base.subarray(0, Math.max(1, rng.int(base.length)))
          : Uint8Array.from([...base, rng.pick([0, 0xff, rng.int(256)])]),
      );
    } else if (r === 1) {
      add(Uint8Array.from({ length: 1 + rng.int(4) }, () => rng.pick([0, 0xff])));
    } else {
      add(rng.bytes(1 + rng.int(12)));
    }
  }
  return [...out.values()];
}
