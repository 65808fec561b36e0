import { ByteArena } from '../encoding/byte-arena.js';

// Small chunks: an entry that stays cached keeps its whole chunk alive.
const CHUNK_BYTES = 16 * 1024;
// Per entry besides its bytes: the view object and its slot in a Map.
const ENTRY_OVERHEAD = 96;

/**
 * A node cache bounded in bytes that holds nodes as their stored bytes, not as decoded
 * objects: one entry is `u8(ref length) || ref || stored value`, a view into this cache's
 * arena. The caller decodes an entry on each hit. A decoded node is six or seven heap objects
 * (the node and a view per field), and a full cache of those made every major GC mark
 * millions of objects, on the node's thread as well as on helper threads that took the
 * second core; an entry is one object and bytes the GC never scans.
 *
 * Two generations instead of a strict LRU: a hit in the old generation is promoted (copied
 * into the current chunk, so it never pins an old chunk), and when the young one fills up the
 * old one is dropped whole. Every operation is O(1) without relinking on each hit.
 *
 * Keys are numbers folded from the node reference, so a lookup allocates nothing; a hit is
 * checked against the entry's full reference, so two references that fold alike only miss.
 *
 * @example
 * const cache = new NodeCache(64 * 1024 * 1024);
 * const entry = cache.add(ref, bytesFromLevelDb); // owned copy, cached
 * const again = cache.get(ref); // the same entry: decode entryRef(again), entryValue(again)
 */
export class NodeCache {
  readonly #maxBytes: number;
  readonly #arena = new ByteArena(CHUNK_BYTES);
  #young = new Map<number, Uint8Array>();
  #old = new Map<number, Uint8Array>();
  #youngBytes = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = Math.max(0, maxBytes);
  }

  /** The entry cached under `ref`, or undefined. */
  get(ref: Uint8Array): Uint8Array | undefined {
    const k = cacheKey(ref);
    const e = this.#young.get(k);
    if (e !== undefined) return entryHasRef(e, ref) ? e : undefined;
    const o = this.#old.get(k);
    if (o === undefined || !entryHasRef(o, ref)) return undefined;
    this.#old.delete(k);
    const moved = this.#arena.copy(o);
    this.#insert(k, moved);
    return moved;
  }

  /** An entry for `ref` and its stored bytes, copied into this cache's arena, not cached. */
  own(ref: Uint8Array, value: Uint8Array): Uint8Array {
    const e = this.#arena.alloc(1 + ref.length + value.length);
    e[0] = ref.length;
    e.set(ref, 1);
    e.set(value, 1 + ref.length);
    return e;
  }

  /** Caches (a copy of) `ref` and its stored bytes; returns the entry. */
  add(ref: Uint8Array, value: Uint8Array): Uint8Array {
    const e = this.own(ref, value);
    this.set(e);
    return e;
  }

  /** Caches an entry that own() made. */
  set(entry: Uint8Array): void {
    if (this.#maxBytes === 0) return;
    this.#insert(cacheKey(entryRef(entry)), entry);
  }

  #insert(k: number, entry: Uint8Array): void {
    const had = this.#young.get(k);
    this.#young.set(k, entry);
    if (had !== undefined) return;
    this.#youngBytes += entry.length + ENTRY_OVERHEAD;
    if (this.#youngBytes > this.#maxBytes / 2) {
      this.#old = this.#young;
      this.#young = new Map();
      this.#youngBytes = 0;
    }
  }

  delete(ref: Uint8Array): void {
    const k = cacheKey(ref);
    const y = this.#young.get(k);
    if (y !== undefined && entryHasRef(y, ref)) this.#young.delete(k);
    const o = this.#old.get(k);
    if (o !== undefined && entryHasRef(o, ref)) this.#old.delete(k);
  }

  clear(): void {
    this.#young.clear();
    this.#old.clear();
    this.#youngBytes = 0;
  }
}

/** The node reference an entry was cached under (a view into the entry). */
export function entryRef(entry: Uint8Array): Uint8Array {
  return entry.subarray(1, 1 + entry[0]);
}

/** The node's stored bytes, as the database holds them (a view into the entry). */
export function entryValue(entry: Uint8Array): Uint8Array {
  return entry.subarray(1 + entry[0]);
}

function entryHasRef(entry: Uint8Array, ref: Uint8Array): boolean {
  const n = entry[0];
  if (n !== ref.length) return false;
  for (let i = n - 1; i >= 0; i--) if (entry[1 + i] !== ref[i]) return false;
  return true;
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
