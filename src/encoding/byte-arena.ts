/**
 * Byte arrays carved out of shared chunks: one backing store per chunk instead of one per
 * array. V8 tracks every backing store in a list that its sweeper walks after each full GC,
 * and the next young GC waits for that walk; with a backing store per tree node (as LevelDB
 * hands them back) the wait reached 400 ms. A view never changes after it is handed out; a
 * chunk is freed when its last view is, so data that lives together belongs in one arena.
 *
 * @example
 * const arena = new ByteArena(16 * 1024);
 * const owned = arena.copy(bufferFromLevelDb);
 */
export class ByteArena {
  readonly #chunkBytes: number;
  readonly #largeBytes: number;
  #chunk: Uint8Array;
  #used = 0;

  /** Arrays over `largeBytes` (a quarter of a chunk by default) get a backing store of their own. */
  constructor(chunkBytes: number, largeBytes = chunkBytes / 4) {
    this.#chunkBytes = chunkBytes;
    this.#largeBytes = largeBytes;
    this.#chunk = new Uint8Array(chunkBytes);
  }

  /** `n` zeroed bytes (a chunk starts zeroed and is never written twice). */
  alloc(n: number): Uint8Array {
    if (n > this.#largeBytes) return new Uint8Array(n);
    if (this.#used + n > this.#chunkBytes) {
      this.#chunk = new Uint8Array(this.#chunkBytes);
      this.#used = 0;
    }
    const out = this.#chunk.subarray(this.#used, this.#used + n);
    this.#used += n;
    return out;
  }

  /** A copy of `src` in the arena. */
  copy(src: Uint8Array): Uint8Array {
    const out = this.alloc(src.length);
    out.set(src);
    return out;
  }
}

// Encoded nodes and keys headed for a write batch: small, and they die together.
const shortLived = new ByteArena(256 * 1024, 16 * 1024);

/** Short-lived bytes (a write batch's keys and values); not for data that outlives the batch. */
export function arenaAlloc(n: number): Uint8Array {
  return shortLived.alloc(n);
}
