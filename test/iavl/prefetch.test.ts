import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDb } from '../../src/db/open-db.js';
import { toHex, utf8 } from '../../src/encoding/bytes.js';
import { MutableTree } from '../../src/iavl/mutable-tree.js';
import type { TreeLayout } from '../../src/iavl/node-db.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
const key = (i: number) => utf8(`key-${String(i).padStart(6, '0')}`);

/** Applies one block to a cold tree (a fresh MutableTree on the saved db) and counts its point reads. */
async function applyCold(path: string, layout: TreeLayout, prefetch: boolean) {
  const db = await openDb(path);
  try {
    const tree = new MutableTree(db, { layout });
    await tree.loadVersion();
    let reads = 0;
    const getSync = tree.kv.getSync.bind(tree.kv);
    tree.kv.getSync = (k) => {
      reads++;
      return getSync(k);
    };
    // Updates, inserts between existing keys and past the end, removes, and an absent remove.
    const sets = [3, 500, 1999, 4000, 4001, 6100, 7777].map((i) => [key(i), utf8(`new-${i}`)] as const);
    const removes = [10, 2500, 5998, 123456].map(key);
    if (prefetch) await tree.prefetch([...sets.map(([k]) => k), ...removes]);
    const before = reads;
    for (const [k, v] of sets) tree.set(k, v);
    for (const k of removes) tree.remove(k);
    const readsDuringApply = reads - before;
    const saved = await tree.saveVersion();
    return { hash: toHex(saved.hash), readsDuringApply };
  } finally {
    await db.close();
  }
}

describe.each<TreeLayout>(['legacy', 'node-key'])('MutableTree.prefetch (%s layout)', (layout) => {
  it('reads ahead what set and remove visit, and the tree hashes the same', async () => {
    const dirA = join(tempDir('prefetch'), 'a');
    const dirB = join(tempDir('prefetch'), 'b');
    for (const dir of [dirA, dirB]) {
      const db = await openDb(dir);
      const tree = new MutableTree(db, { layout });
      await tree.loadVersion();
      for (let i = 0; i < 6000; i += 2) tree.set(key(i), utf8(`v${i}`));
      await tree.saveVersion();
      await db.close();
    }
    const cold = await applyCold(dirA, layout, false);
    const warm = await applyCold(dirB, layout, true);
    expect(warm.hash).toBe(cold.hash);
    // Without it every path is read node by node; with it, at most the odd node a rotation reaches.
    expect(cold.readsDuringApply).toBeGreaterThan(100);
    expect(warm.readsDuringApply).toBeLessThanOrEqual(cold.readsDuringApply / 10);
  });

  it('is a no-op on an empty tree and for no keys', async () => {
    const db = await openDb(join(tempDir('prefetch-empty'), 'db'));
    try {
      const tree = new MutableTree(db, { layout });
      await tree.loadVersion();
      await tree.prefetch([key(1)]);
      tree.set(key(1), utf8('x'));
      await tree.saveVersion();
      await tree.prefetch([]);
      expect(tree.get(key(1))).toEqual(utf8('x'));
    } finally {
      await db.close();
    }
  });
});
