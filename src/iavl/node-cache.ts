import { readU32be, writeU32be } from '../encoding/byte-writer.js';

// Entries live in chunks of this size; a location is chunk index * CHUNK_BYTES + offset.
const CHUNK_BYTES = 64 * 1024;
// Larger entries (a leaf with a big value) are not cached: they would take a chunk each.
const MAX_ENTRY_BYTES = CHUNK_BYTES / 4;
// Locations are small integers (31 bits), so at most this many chunks exist at once.
const MAX_CHUNKS = 2 ** 30 / CHUNK_BYTES;
// Per entry besides its bytes: its slot in a Map (key, value and chain, with the table's slack).
const ENTRY_OVERHEAD = 40;

/** What get() and add() return when there is no cached entry. */
export const NO_ENTRY = -1;

/**
 * A node cache bounded in bytes that holds nodes as their stored bytes, not as decoded
 * objects. An entry is `u8(ref length) || ref || u32be(value length) || value`, written into
 * 64 KiB chunks, and the maps hold only its location, a small integer: a cached node is no
 * heap object at all. A decoded node is six or seven objects, and even one view per entry
 * (millions, at 64 MiB per tree) gave every major GC millions of objects to mark, on helper
 * threads that took both cores from the node's commits. The caller decodes an entry on a hit.
 *
 * Two generations instead of a strict LRU: a hit in the old generation is promoted (copied
 * into the current chunk), and when the young one fills up the old one is dropped whole, its
 * chunks with it. Every operation is O(1) without relinking on each hit. A chunk is never
 * written again once dropped; views into it (decoded nodes) keep it alive until they go.
 *
 * Keys are numbers folded from the node reference, so a lookup allocates nothing; a hit is
 * checked against the entry's full reference, so two references that fold alike only miss.
 *
 * @example
 * const cache = new NodeCache(64 * 1024 * 1024);
 * cache.add(ref, bytesFromLevelDb); // a copy, cached
 * const at = cache.get(ref); // NO_ENTRY, or: decode cache.value(at)
 */
export class NodeCache {
  readonly #maxBytes: number;
  #young = new Map<number, number>();
  #old = new Map<number, number>();
  #youngBytes = 0;
  readonly #chunks: Array<Uint8Array | undefined> = [];
  readonly #free: number[] = [];
  #youngChunks: number[] = [];
  #oldChunks: number[] = [];
  #current = 0;
  #used = CHUNK_BYTES;

  /** `maxBytes` is capped at 512 MiB, for locations to stay small integers. */
  constructor(maxBytes: number) {
    this.#maxBytes = Math.min(Math.max(0, maxBytes), (MAX_CHUNKS * CHUNK_BYTES) / 2);
  }

  /** The location of the entry cached under `ref`, or NO_ENTRY. */
  get(ref: Uint8Array): number {
    const k = cacheKey(ref);
    const y = this.#young.get(k);
    if (y !== undefined) return this.#hasRef(y, ref) ? y : NO_ENTRY;
    const o = this.#old.get(k);
    if (o === undefined || !this.#hasRef(o, ref)) return NO_ENTRY;
    this.#old.delete(k);
    const chunk = this.#chunkAt(o);
    const from = o % CHUNK_BYTES;
    return this.#insert(k, chunk.subarray(from, from + this.#entryLength(chunk, from)));
  }

  /** Caches a copy of `ref` and its stored bytes; returns its location (NO_ENTRY: not cached). */
  add(ref: Uint8Array, value: Uint8Array): number {
    const n = 1 + ref.length + 4 + value.length;
    if (this.#maxBytes === 0 || n > MAX_ENTRY_BYTES) return NO_ENTRY;
    const at = this.#alloc(n);
    const chunk = this.#chunkAt(at);
    let o = at % CHUNK_BYTES;
    chunk[o++] = ref.length;
    chunk.set(ref, o);
    o += ref.length;
    writeU32be(chunk, o, value.length);
    chunk.set(value, o + 4);
    this.#index(cacheKey(ref), at, n);
    return at;
  }

  /** The stored bytes of the entry at `at` (a view into its chunk). */
  value(at: number): Uint8Array {
    const chunk = this.#chunkAt(at);
    const o = at % CHUNK_BYTES;
    const start = o + 1 + chunk[o] + 4;
    return chunk.subarray(start, start + readU32be(chunk, start - 4));
  }

  delete(ref: Uint8Array): void {
    const k = cacheKey(ref);
    const y = this.#young.get(k);
    if (y !== undefined && this.#hasRef(y, ref)) this.#young.delete(k);
    const o = this.#old.get(k);
    if (o !== undefined && this.#hasRef(o, ref)) this.#old.delete(k);
  }

  clear(): void {
    this.#young.clear();
    this.#old.clear();
    this.#youngBytes = 0;
    for (const i of [...this.#youngChunks, ...this.#oldChunks]) this.#release(i);
    this.#youngChunks = [];
    this.#oldChunks = [];
    this.#used = CHUNK_BYTES;
  }

  /** The chunk a location is in (locations only ever point into live chunks). */
  #chunkAt(at: number): Uint8Array {
    return this.#chunks[Math.floor(at / CHUNK_BYTES)]!;
  }

  #entryLength(chunk: Uint8Array, o: number): number {
    const refEnd = o + 1 + chunk[o];
    return refEnd + 4 + readU32be(chunk, refEnd) - o;
  }

  #hasRef(at: number, ref: Uint8Array): boolean {
    const chunk = this.#chunkAt(at);
    const o = at % CHUNK_BYTES;
    const n = chunk[o];
    if (n !== ref.length) return false;
    for (let i = n - 1; i >= 0; i--) if (chunk[o + 1 + i] !== ref[i]) return false;
    return true;
  }

  /** Copies a whole entry into the current chunk and indexes it in the young generation. */
  #insert(k: number, entry: Uint8Array): number {
    const at = this.#alloc(entry.length);
    this.#chunkAt(at).set(entry, at % CHUNK_BYTES);
    this.#index(k, at, entry.length);
    return at;
  }

  #index(k: number, at: number, n: number): void {
    const had = this.#young.get(k);
    this.#young.set(k, at);
    if (had !== undefined) return;
    this.#youngBytes += n + ENTRY_OVERHEAD;
    if (this.#youngBytes > this.#maxBytes / 2) {
      for (const i of this.#oldChunks) this.#release(i);
      this.#oldChunks = this.#youngChunks;
      this.#youngChunks = [];
      this.#old = this.#young;
      this.#young = new Map();
      this.#youngBytes = 0;
      // The current chunk is the old generation's now: the next entry starts a young one.
      this.#used = CHUNK_BYTES;
    }
  }

  #alloc(n: number): number {
    if (this.#used + n > CHUNK_BYTES) {
      const i = this.#free.pop() ?? this.#chunks.length;
      this.#chunks[i] = new Uint8Array(CHUNK_BYTES);
      this.#youngChunks.push(i);
      this.#current = i;
      this.#used = 0;
    }
    const at = this.#current * CHUNK_BYTES + this.#used;
    this.#used += n;
    return at;
  }

  #release(i: number): void {
    this.#chunks[i] = undefined;
    this.#free.push(i);
  }
}

/** A multiplier that spreads consecutive versions over the key space (2^32 / golden ratio). */
export const VERSION_SPREAD = 0x9e3779b1;

/**
 * Folds a reference into a 30-bit number, which V8 keeps as a small integer: no heap number
 * is made per lookup and Map hashing stays cheap. For a node key, the spread low 32 bits of
 * the version plus the nonce (distinct within a version); for a hash, its first 30 bits,
 * which are already uniform. A few hundred thousand cached nodes fold to a few dozen shared
 * keys, and those only miss.
 */
export function cacheKey(ref: Uint8Array): number {
  if (ref.length === 12) {
    const vLo = (ref[4] << 24) | (ref[5] << 16) | (ref[6] << 8) | ref[7];
    const nonce = (ref[8] << 24) | (ref[9] << 16) | (ref[10] << 8) | ref[11];
    return (Math.imul(vLo, VERSION_SPREAD) + nonce) & 0x3fffffff;
  }
  return ((ref[0] << 22) | (ref[1] << 14) | (ref[2] << 6) | (ref[3] >>> 2)) & 0x3fffffff;
}

/** A compact Map key for exact bookkeeping (orphans, shared-node sets); not for the hot cache path. */
export function refKey(ref: Uint8Array): string {
  return Buffer.from(ref.buffer, ref.byteOffset, ref.byteLength).toString('latin1');
}
