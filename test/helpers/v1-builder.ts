import type { LevelDatabase } from '../../src/db/kv-db.js';
import { utf8 } from '../../src/encoding/bytes.js';
import type { Changeset } from '../../src/encoding/changeset.js';
import { MultiStoreV1 } from '../../src/v1/multi-store-v1.js';
import { Rng } from './random.js';

export interface V1Shape {
  stores: string[];
  keysPerStore: number;
  versions: number;
  seed?: number;
  /** Tree layout of the stores (default legacy, as MultiStoreV1). */
  layout?: 'legacy' | 'node-key';
}

/** Deterministic block workloads over a fixed key space, for v1 histories and live blocks. */
export class Workload {
  readonly rng: Rng;
  readonly stores: string[];
  readonly keySpace: number;

  constructor(stores: string[], keySpace: number, seed = 42) {
    this.rng = new Rng(seed);
    this.stores = stores;
    this.keySpace = keySpace;
  }

  key(i: number): Uint8Array {
    return utf8(`key/${String(i).padStart(7, '0')}`);
  }

  /** The initial state: every store gets `keysPerStore` keys. */
  initial(keysPerStore: number): Changeset {
    return {
      changes: this.stores.map((store) => ({
        store,
        pairs: Array.from({ length: keysPerStore }, (_, i) => ({
          key: this.key(i),
          value: this.rng.bytes(8 + this.rng.int(120)),
        })),
      })),
    };
  }

  /** A block: `n` random sets and deletes spread over the stores. */
  block(n: number): Changeset {
    const byStore = new Map<string, Changeset['changes'][number]>();
    for (let i = 0; i < n; i++) {
      const store = this.rng.pick(this.stores);
      const sc = byStore.get(store) ?? { store, pairs: [] };
      byStore.set(store, sc);
      const key = this.key(this.rng.int(this.keySpace));
      if (this.rng.next() < 0.2) sc.pairs.push({ key, remove: true });
      else sc.pairs.push({ key, value: this.rng.bytes(1 + this.rng.int(100)) });
    }
    return { changes: [...byStore.values()] };
  }
}

/** Writes a v1 multistore with history; returns the workload so tests can keep committing. */
export async function buildV1(
  db: LevelDatabase,
  shape: V1Shape,
): Promise<{ ms: MultiStoreV1; workload: Workload }> {
  const ms = await MultiStoreV1.open(db, { stores: shape.stores, layout: shape.layout });
  const workload = new Workload(shape.stores, Math.round(shape.keysPerStore * 1.2), shape.seed ?? 42);
  await ms.commit(workload.initial(shape.keysPerStore));
  for (let v = 2; v <= shape.versions; v++) await ms.commit(workload.block(200));
  return { ms, workload };
}
