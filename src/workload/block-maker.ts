import type { Changeset, KVPair } from '../encoding/changeset.js';
import { StoreMigrateError } from '../errors.js';
import { SeededRandom } from './seeded-random.js';

/** Shares of a block's changes: the rest (UPDATE) updates existing keys. */
const CREATE_SHARE = 0.3;
const DELETE_SHARE = 0.25;
/** Values of new and updated keys: log-uniform sizes, mostly small. */
const VALUE_MIN = 8;
const VALUE_MAX = 512;

export interface BlockStats {
  created: number;
  updated: number;
  deleted: number;
}

/**
 * Makes the demo's blocks: random changesets over a set of live keys per store, as a chain
 * would (balances updated, accounts created, delegations removed). Each change picks a store
 * weighted by its live keys, then creates a key (30%), deletes a live one (25%) or updates
 * a live one (45%). The same seed and starting keys always give the same blocks.
 */
export class BlockMaker {
  readonly #rng: SeededRandom;
  readonly #stores: string[];
  readonly #live: Uint8Array[][];
  #total: number;

  /** `live`: the keys each store holds now; the maker keeps the arrays and changes them. */
  constructor(live: Map<string, Uint8Array[]>, seed: number) {
    if (live.size === 0) throw new StoreMigrateError('ERR_INVALID_PARAMS', 'a block maker needs a store');
    this.#rng = new SeededRandom(seed);
    this.#stores = [...live.keys()].sort();
    this.#live = this.#stores.map((s) => live.get(s)!);
    this.#total = this.#live.reduce((a, k) => a + k.length, 0);
  }

  /** Live keys over all stores. */
  get liveKeys(): number {
    return this.#total;
  }

  /** The next block's changeset with `changes` changes (a later change to the same key wins). */
  next(changes: number): { changeset: Changeset; stats: BlockStats } {
    const rng = this.#rng;
    const pairs: KVPair[][] = this.#stores.map(() => []);
    const stats: BlockStats = { created: 0, updated: 0, deleted: 0 };
    for (let i = 0; i < changes; i++) {
      const si = this.#pickStore();
      const keys = this.#live[si];
      const r = rng.float();
      if (keys.length === 0 || r < CREATE_SHARE) {
        const key = this.#newKey();
        keys.push(key);
        this.#total++;
        pairs[si].push({ key, value: this.#value() });
        stats.created++;
      } else if (r < CREATE_SHARE + DELETE_SHARE) {
        // Swap-remove: O(1), and the array stays a dense pool to draw from.
        const at = rng.int(keys.length);
        const key = keys[at];
        keys[at] = keys[keys.length - 1];
        keys.pop();
        this.#total--;
        pairs[si].push({ key, remove: true });
        stats.deleted++;
      } else {
        pairs[si].push({ key: keys[rng.int(keys.length)], value: this.#value() });
        stats.updated++;
      }
    }
    const changeset: Changeset = {
      changes: this.#stores.map((store, i) => ({ store, pairs: pairs[i] })).filter((c) => c.pairs.length > 0),
    };
    return { changeset, stats };
  }

  #pickStore(): number {
    if (this.#total === 0) return this.#rng.int(this.#stores.length);
    let at = this.#rng.int(this.#total);
    for (let i = 0; i < this.#live.length; i++) {
      if (at < this.#live[i].length) return i;
      at -= this.#live[i].length;
    }
    return this.#live.length - 1;
  }

  /** An account-like key: 0x01, a length byte and a 20-byte address, as cosmos-sdk keys look. */
  #newKey(): Uint8Array {
    const key = new Uint8Array(22);
    key[0] = 0x01;
    key[1] = 20;
    this.#rng.fill(key, 2, 20);
    return key;
  }

  #value(): Uint8Array {
    const v = new Uint8Array(this.#rng.logUniform(VALUE_MIN, VALUE_MAX));
    this.#rng.fill(v, 0, v.length);
    return v;
  }
}
