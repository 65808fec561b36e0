import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDb } from '../../src/db/open-db.js';
import { MutableTree } from '../../src/iavl/mutable-tree.js';
import { entriesHex, Model } from '../helpers/model.js';
import { Rng, trickyKeys } from '../helpers/random.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();

describe.each(['legacy', 'node-key'] as const)('diff between versions (%s layout)', (layout) => {
  it('turns version a into version b for random pairs', async () => {
    const db = await openDb(join(tempDir('diff'), 'db'));
    try {
      const rng = new Rng(99);
      const keys = trickyKeys(rng, 800);
      const tree = new MutableTree(db, { layout });
      await tree.loadVersion();
      for (let v = 1; v <= 15; v++) {
        const ops = v === 1 ? 600 : rng.int(60);
        for (let i = 0; i < ops; i++) {
          const k = rng.pick(keys);
          if (rng.next() < 0.3) tree.remove(k);
          else tree.set(k, rng.int(5) === 0 ? new Uint8Array(0) : rng.bytes(rng.int(20)));
        }
        await tree.saveVersion();
      }
      for (let i = 0; i < 30; i++) {
        const a = 1 + rng.int(15);
        const b = 1 + rng.int(15);
        const state = new Model();
        for (const [k, v] of tree.getImmutable(a).iterate()) state.set(k, v);
        const changes = tree.diff(a, b);
        for (const c of changes) {
          if (c.remove) state.remove(c.key);
          else state.set(c.key, c.value!);
        }
        expect(entriesHex(state.range())).toEqual(entriesHex(tree.getImmutable(b).iterate()));
        if (a === b) expect(changes).toEqual([]);
        // Sorted, one change per key.
        const hexKeys = changes.map((c) => Buffer.from(c.key).toString('hex'));
        expect(new Set(hexKeys).size).toBe(hexKeys.length);
      }
    } finally {
      await db.close();
    }
  });

  it('reads only the changed part of a large tree for a small change', async () => {
    const db = await openDb(join(tempDir('diff'), 'db'));
    try {
      const tree = new MutableTree(db, { layout });
      await tree.loadVersion();
      for (let i = 0; i < 5000; i++)
        tree.set(new TextEncoder().encode(`key${i}`), new Uint8Array([i & 0xff]));
      await tree.saveVersion();
      tree.set(new TextEncoder().encode('key42'), new Uint8Array([0]));
      tree.remove(new TextEncoder().encode('key4000'));
      await tree.saveVersion();
      const reads: number[] = [];
      const original = tree.ndb.getNode.bind(tree.ndb);
      tree.ndb.getNode = (ref) => {
        reads.push(1);
        return original(ref);
      };
      const changes = tree.diff(1, 2);
      expect(changes.map((c) => [new TextDecoder().decode(c.key), c.remove === true])).toEqual([
        ['key4000', true],
        ['key42', false],
      ]);
      // Two root-to-leaf paths and their siblings, not the 10k nodes of the tree.
      expect(reads.length).toBeLessThan(200);
    } finally {
      await db.close();
    }
  });
});
