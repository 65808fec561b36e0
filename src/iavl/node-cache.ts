import type { Node } from './node.js';

/**
 * A node cache bounded in bytes. Two generations instead of a strict LRU: a hit in the old
 * generation is promoted, and when the young one fills up the old one is dropped whole.
 * That keeps every operation O(1) without relinking on each hit.
 */
export class NodeCache {
  readonly #maxBytes: number;
  #young = new Map<string, Node>();
  #old = new Map<string, Node>();
  #youngBytes = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = Math.max(0, maxBytes);
  }

  get(key: string): Node | undefined {
    const n = this.#young.get(key);
    if (n !== undefined) return n;
    const o = this.#old.get(key);
    if (o !== undefined) {
      this.#old.delete(key);
      this.set(key, o);
    }
    return o;
  }

  set(key: string, node: Node): void {
    if (this.#maxBytes === 0) return;
    if (this.#young.has(key)) return;
    this.#young.set(key, node);
    this.#youngBytes += node.byteSize;
    if (this.#youngBytes > this.#maxBytes / 2) {
      this.#old = this.#young;
      this.#young = new Map();
      this.#youngBytes = 0;
    }
  }

  delete(key: string): void {
    this.#young.delete(key);
    this.#old.delete(key);
  }

  clear(): void {
    this.#young.clear();
    this.#old.clear();
    this.#youngBytes = 0;
  }
}

/** A compact Map key for a node reference. */
export function refKey(ref: Uint8Array): string {
  return Buffer.from(ref.buffer, ref.byteOffset, ref.byteLength).toString('latin1');
}
