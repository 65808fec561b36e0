import type { Node } from './node.js';

/**
 * A node cache bounded in bytes. Two generations instead of a strict LRU: a hit in the old
 * generation is promoted, and when the young one fills up the old one is dropped whole.
 * That keeps every operation O(1) without relinking on each hit.
 *
 * Keys are numbers folded from the node reference, so a lookup allocates nothing; a hit is
 * checked against the node's full reference, so two references that fold alike only miss.
 */
export class NodeCache {
  readonly #maxBytes: number;
  #young = new Map<number, Node>();
  #old = new Map<number, Node>();
  #youngBytes = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = Math.max(0, maxBytes);
  }

  get(ref: Uint8Array): Node | undefined {
    const k = cacheKey(ref);
    const n = this.#young.get(k);
    if (n !== undefined) return sameRef(n.ref!, ref) ? n : undefined;
    const o = this.#old.get(k);
    if (o === undefined || !sameRef(o.ref!, ref)) return undefined;
    this.#old.delete(k);
    this.#insert(k, o);
    return o;
  }

  /** Caches a persisted node under its reference. */
  set(node: Node): void {
    if (this.#maxBytes === 0) return;
    this.#insert(cacheKey(node.ref!), node);
  }

  #insert(k: number, node: Node): void {
    const had = this.#young.get(k);
    this.#young.set(k, node);
    if (had !== undefined) return;
    this.#youngBytes += node.byteSize;
    if (this.#youngBytes > this.#maxBytes / 2) {
      this.#old = this.#young;
      this.#young = new Map();
      this.#youngBytes = 0;
    }
  }

  delete(ref: Uint8Array): void {
    const k = cacheKey(ref);
    if (sameRef(this.#young.get(k)?.ref, ref)) this.#young.delete(k);
    if (sameRef(this.#old.get(k)?.ref, ref)) this.#old.delete(k);
  }

  clear(): void {
    this.#young.clear();
    this.#old.clear();
    this.#youngBytes = 0;
  }
}

function sameRef(a: Uint8Array | undefined, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a === undefined || a.length !== b.length) return false;
  for (let i = a.length - 1; i >= 0; i--) if (a[i] !== b[i]) return false;
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
