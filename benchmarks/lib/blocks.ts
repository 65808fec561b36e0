import { openDb } from '../../src/db/open-db.js';
import { encodeChangeset } from '../../src/encoding/changeset.js';
import { MultiStoreV1 } from '../../src/v1/multi-store-v1.js';
import { BlockMaker } from '../../src/workload/block-maker.js';

/** The live keys of every store of a v1 database at its latest version (opened read-only). */
export async function liveKeys(
  v1Path: string,
): Promise<{ version: number; live: Map<string, Uint8Array[]> }> {
  const db = await openDb(v1Path, { createIfMissing: false });
  try {
    const ms = await MultiStoreV1.open(db, { readOnly: true });
    const live = new Map<string, Uint8Array[]>();
    for (const store of ms.storeNames()) {
      const keys: Uint8Array[] = [];
      for (const [key] of (await ms.immutable(store, ms.latestVersion)).iterate()) keys.push(key);
      live.set(store, keys);
    }
    return { version: ms.latestVersion, live };
  } finally {
    await db.close();
  }
}

/**
 * `count` blocks of `changes` changes each (the demo's BlockMaker: 30% creates, 25% deletes,
 * 45% updates over the live keys), made once before any timing so that every run commits
 * exactly the same changesets. The maker works on a copy of `live`.
 *
 * Each block is kept encoded (`decodeChangeset` it just before its commit, outside the timing):
 * a thousand blocks as changesets are two million small arrays on the heap, and every major
 * GC of the process under test marked them. That was most of the "without a migration" tail
 * of bench commit-latency at 1,000 blocks (p99 ÷ p50 3.4× with them, 1.6× without).
 */
export function makeBlocks(
  live: Map<string, Uint8Array[]>,
  seed: number,
  count: number,
  changes: number,
): Uint8Array[] {
  const copy = new Map([...live].map(([store, keys]) => [store, [...keys]]));
  const maker = new BlockMaker(copy, seed);
  return Array.from({ length: count }, () => encodeChangeset(maker.next(changes).changeset));
}

/** makeBlocks over the live keys of the v1 at `v1Path`, which it does not keep. */
export async function blocksFor(
  v1Path: string,
  seed: number,
  count: number,
  changes: number,
): Promise<Uint8Array[]> {
  const { live } = await liveKeys(v1Path);
  return makeBlocks(live, seed, count, changes);
}
