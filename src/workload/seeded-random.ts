import { StoreMigrateError } from '../errors.js';

/** sfc32: a small, fast PRNG with a 128-bit state (PractRand-clean), seeded by an integer. */
export class SeededRandom {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new StoreMigrateError(
        'ERR_INVALID_PARAMS',
        `seed must be a non-negative safe integer, not ${seed}`,
      );
    }
    this.#a = 0x9e3779b9;
    this.#b = 0x243f6a88 ^ Math.floor(seed / 0x1_0000_0000);
    this.#c = 0xb7e15162;
    this.#d = seed >>> 0;
    for (let i = 0; i < 20; i++) this.u32();
  }

  u32(): number {
    const a = this.#a;
    const b = this.#b;
    const c = this.#c;
    const d = this.#d;
    const t = (((a + b) | 0) + d) | 0;
    this.#d = (d + 1) | 0;
    this.#a = b ^ (b >>> 9);
    this.#b = (c + (c << 3)) | 0;
    this.#c = (((c << 21) | (c >>> 11)) + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 0x1_0000_0000;
  }

  /** Uniform integer in [0, n), for n up to 2^32. */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** Integer in [min, max], log-uniform: most draws small, a long tail of large ones. */
  logUniform(min: number, max: number): number {
    if (min >= max) return min;
    return Math.min(max, Math.floor(min * (max / min + 1 / min) ** this.float()));
  }

  /** Fills `buf[offset, offset + length)` with random bytes, four per draw. */
  fill(buf: Uint8Array, offset: number, length: number): void {
    const end = offset + length;
    let i = offset;
    for (; i + 4 <= end; i += 4) {
      const r = this.u32();
      buf[i] = r;
      buf[i + 1] = r >>> 8;
      buf[i + 2] = r >>> 16;
      buf[i + 3] = r >>> 24;
    }
    if (i < end) {
      let r = this.u32();
      for (; i < end; i++, r >>>= 8) buf[i] = r;
    }
  }
  /** Uniform integer in [min, max], both inclusive. */
  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    this.fill(out, 0, n);
    return out;
  }

  /** One of `xs`, uniformly. */
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
}
