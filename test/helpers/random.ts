/** A small seeded PRNG (mulberry32) so property tests are repeatable. */
export class Rng {
  #s: number;

  constructor(seed: number) {
    this.#s = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.#s = (this.#s + 0x6d2b79f5) >>> 0;
    let t = this.#s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
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
