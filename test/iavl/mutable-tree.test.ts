import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LevelDatabase } from '../../src/db/kv-db.js';
import { openDb } from '../../src/db/open-db.js';
import { toHex } from '../../src/encoding/bytes.js';
import { Importer } from '../../src/iavl/importer.js';
import { MutableTree } from '../../src/iavl/mutable-tree.js';
import type { Node } from '../../src/iavl/node.js';
import { EMPTY_HASH } from '../../src/iavl/node-hash.js';
import { entriesHex, Model } from '../helpers/model.js';
import { Rng, trickyKeys } from '../helpers/random.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
const SEED = Number(process.env.IAVL_SEED ?? 20261122);
const VERSIONS = 24;
const OPS_PER_VERSION = 450; // 10,800 operations in all

function checkTreeAgainstModel(
  tree: MutableTree,
  version: number,
  model: Model,
  keys: Uint8Array[],
  rng: Rng,
) {
  const t = tree.getImmutable(version);
  for (const k of keys) expect(t.get(k), `get ${toHex(k)} at ${version}`).toEqual(model.get(k));
  // has() reads no leaf where an inner node's key tells: it must agree with get() on every key.
  for (const k of keys) expect(t.has(k), `has ${toHex(k)} at ${version}`).toBe(model.get(k) !== undefined);
  expect(entriesHex(t.iterate())).toEqual(entriesHex(model.range()));
  expect(t.size).toBe(model.map.size);
  for (let i = 0; i < 4; i++) {
    const a = rng.pick(keys);
    const b = rng.pick(keys);
    const [start, end] = Buffer.compare(a, b) <= 0 ? [a, b] : [b, a];
    const reverse = i % 2 === 1;
    const s = i === 2 ? undefined : start;
    expect(entriesHex(t.iterate({ start: s, end }, { reverse }))).toEqual(
      entriesHex(model.range(s, end, reverse)),
    );
  }
}

/** Every node reference the saved versions reach, and every node stored: they must match after pruning. */
async function reachableAndStored(
  tree: MutableTree,
): Promise<{ reachable: Set<string>; stored: Set<string> }> {
  const reachable = new Set<string>();
  for (const v of await tree.availableVersions()) {
    const root = tree.getImmutable(v).root;
    const stack: Node[] = root ? [root] : [];
    while (stack.length > 0) {
      const n = stack.pop()!;
      reachable.add(toHex(n.ref!));
      if (n.height > 0) stack.push(tree.ndb.left(n), tree.ndb.right(n));
    }
  }
  const stored = new Set<string>();
  const prefix = tree.layout === 'legacy' ? 0x6e : 0x73;
  for await (const [k, v] of tree.kv.iterate({
    gte: new Uint8Array([prefix]),
    lt: new Uint8Array([prefix + 1]),
  })) {
    // Node-key root records that only refer to another root (or mark an empty tree) are not nodes.
    if (tree.layout === 'node-key' && (v.length === 0 || v[0] === 0x73)) continue;
    stored.add(toHex(k.subarray(1)));
  }
  return { reachable, stored };
}

async function withDbs<T>(n: number, fn: (dbs: LevelDatabase[]) => Promise<T>): Promise<T> {
  const dbs = await Promise.all(Array.from({ length: n }, (_, i) => openDb(join(tempDir('iavl'), `db${i}`))));
  try {
    return await fn(dbs);
  } finally {
    await Promise.all(dbs.map((d) => d.close()));
  }
}

describe('MutableTree against a Map model (seeded property test)', () => {
  it(`agrees over ${VERSIONS * OPS_PER_VERSION} random operations in both layouts (seed ${SEED})`, async () => {
    await withDbs(4, async ([dbLegacy, dbNodeKey, dbImportA, dbImportB]) => {
      const rng = new Rng(SEED);
      const keys = trickyKeys(rng, 1500);
      const legacy = new MutableTree(dbLegacy, { layout: 'legacy', prefix: new Uint8Array([0x73, 0x2f]) });
      const nodeKey = new MutableTree(dbNodeKey, { layout: 'node-key' });
      await legacy.loadVersion();
      await nodeKey.loadVersion();
      const model = new Model();
      const history: Model[] = [new Model()];

      for (let v = 1; v <= VERSIONS; v++) {
        for (let i = 0; i < OPS_PER_VERSION; i++) {
          const k = rng.pick(keys);
          if (rng.next() < 0.3) {
            const expected = model.get(k);
            expect(legacy.remove(k)).toEqual(expected);
            expect(nodeKey.remove(k)).toEqual(expected);
            model.remove(k);
          } else {
            const value = rng.int(8) === 0 ? new Uint8Array(0) : rng.bytes(rng.int(40));
            const existed = model.get(k) !== undefined;
            expect(legacy.set(k, value)).toBe(existed);
            expect(nodeKey.set(k, value)).toBe(existed);
            model.set(k, value);
          }
        }
        expect(toHex(legacy.workingHash())).toBe(toHex(nodeKey.workingHash()));
        const a = await legacy.saveVersion();
        const b = await nodeKey.saveVersion();
        expect(a.version).toBe(v);
        expect(toHex(a.hash)).toBe(toHex(b.hash));
        history.push(model.clone());
        checkTreeAgainstModel(legacy, v, model, keys, rng);
        checkTreeAgainstModel(nodeKey, v, model, keys, rng);
      }

      // Every saved version still reads as it was.
      for (let v = 1; v <= VERSIONS; v++) {
        checkTreeAgainstModel(legacy, v, history[v], keys, rng);
        checkTreeAgainstModel(nodeKey, v, history[v], keys, rng);
      }

      // Export then import, across layouts, reproduces the root hash and the contents.
      for (const [source, target, db] of [
        [legacy, 'node-key', dbImportA],
        [nodeKey, 'legacy', dbImportB],
      ] as const) {
        const v = VERSIONS - 3;
        const fresh = new MutableTree(db, { layout: target });
        await fresh.loadVersion();
        const imp = new Importer(fresh, v, { batchBytes: 64 * 1024 });
        await imp.addAll(source.getImmutable(v).export());
        const res = await imp.commit();
        expect(toHex(res.hash)).toBe(toHex(source.getImmutable(v).hash));
        expect(fresh.version).toBe(v);
        checkTreeAgainstModel(fresh, v, history[v], keys, rng);
      }

      // Pruning keeps the rest readable and leaves no orphaned node behind.
      for (const tree of [legacy, nodeKey]) {
        await tree.deleteVersionsTo(VERSIONS - 8);
        expect(await tree.availableVersions()).toEqual(Array.from({ length: 8 }, (_, i) => VERSIONS - 7 + i));
        for (let v = VERSIONS - 7; v <= VERSIONS; v++) checkTreeAgainstModel(tree, v, history[v], keys, rng);
        const { reachable, stored } = await reachableAndStored(tree);
        expect([...stored].filter((r) => !reachable.has(r))).toEqual([]);
        expect([...reachable].filter((r) => !stored.has(r))).toEqual([]);
        await expect(tree.loadVersion(3)).rejects.toMatchObject({ code: 'ERR_VERSION_PRUNED' });
      }

      // Pruning one version at a time, then more work, keeps it all consistent.
      const more = Array.from({ length: 200 }, () => [rng.pick(keys), rng.bytes(8)] as const);
      for (const tree of [legacy, nodeKey]) {
        await tree.loadVersion();
        for (const [k, v] of more) tree.set(k, v);
        await tree.saveVersion();
        for (let v = VERSIONS - 7; v <= VERSIONS - 2; v++) await tree.deleteVersionsTo(v);
        const { reachable, stored } = await reachableAndStored(tree);
        expect([...stored].filter((r) => !reachable.has(r))).toEqual([]);
      }
      expect(toHex(legacy.getImmutable(VERSIONS + 1).hash)).toBe(
        toHex(nodeKey.getImmutable(VERSIONS + 1).hash),
      );
    });
  });
});

/** Runs `fn` on a new, loaded tree of each layout, each on a database of its own. */
async function inBothLayouts(
  fn: (t: MutableTree, db: LevelDatabase, layout: 'legacy' | 'node-key') => Promise<void>,
) {
  await withDbs(2, async ([d1, d2]) => {
    for (const [db, layout] of [
      [d1, 'legacy'],
      [d2, 'node-key'],
    ] as const) {
      const t = new MutableTree(db, { layout });
      await t.loadVersion();
      await fn(t, db, layout);
    }
  });
}

describe('MutableTree basics', () => {
  it('hashes an empty tree as sha256("") and saves empty versions in both layouts', async () => {
    await inBothLayouts(async (t, db, layout) => {
      expect(toHex(t.workingHash())).toBe(toHex(EMPTY_HASH));
      expect((await t.saveVersion()).version).toBe(1);
      t.set(new Uint8Array([1]), new Uint8Array([2]));
      await t.saveVersion();
      // Unchanged version: node-key stores a reference to the older root.
      const s3 = await t.saveVersion();
      expect(s3.version).toBe(3);
      expect(t.remove(new Uint8Array([1]))).toEqual(new Uint8Array([2]));
      expect(toHex((await t.saveVersion()).hash)).toBe(toHex(EMPTY_HASH));
      const reopened = new MutableTree(db, { layout });
      expect(await reopened.loadVersion()).toBe(4);
      expect(await reopened.availableVersions()).toEqual([1, 2, 3, 4]);
      expect(reopened.getImmutable(3).get(new Uint8Array([1]))).toEqual(new Uint8Array([2]));
      expect(reopened.getImmutable(4).size).toBe(0);
    });
  });

  it('hands out root hashes that hold nothing else in memory', async () => {
    // Node hashes are views into shared chunks; a root hash a caller keeps (commit info, for
    // good) must be a 32-byte array of its own, not pin a chunk of other nodes' hashes.
    await inBothLayouts(async (t) => {
      for (let i = 0; i < 64; i++) t.set(new Uint8Array([i, 1]), new Uint8Array([i]));
      const working = t.workingHash();
      const saved = await t.saveVersion();
      const kept = t.getImmutable(1).hash;
      for (const h of [working, saved.hash, kept]) {
        expect(h.length).toBe(32);
        expect(h.buffer.byteLength).toBe(32);
      }
      expect(toHex(kept)).toBe(toHex(working));
    });
  });

  it('rejects empty keys, unknown versions and an overwrite with a different hash', async () => {
    await withDbs(1, async ([db]) => {
      const t = new MutableTree(db, { layout: 'node-key' });
      await t.loadVersion();
      expect(() => t.set(new Uint8Array(0), new Uint8Array([1]))).toThrow(
        expect.objectContaining({ code: 'ERR_EMPTY_KEY' }),
      );
      t.set(new Uint8Array([1]), new Uint8Array([1]));
      await t.saveVersion();
      t.set(new Uint8Array([2]), new Uint8Array([1]));
      await t.saveVersion();
      expect(() => t.getImmutable(9)).toThrow(expect.objectContaining({ code: 'ERR_VERSION_NOT_FOUND' }));
      await expect(t.loadVersion(9)).rejects.toMatchObject({ code: 'ERR_VERSION_NOT_FOUND' });
      const old = new MutableTree(db, { layout: 'node-key' });
      await old.loadVersion(1);
      old.set(new Uint8Array([3]), new Uint8Array([1]));
      await expect(old.saveVersion()).rejects.toMatchObject({ code: 'ERR_VERSION_EXISTS' });
    });
  });

  it('keeps the fast-node index of a tree that has one', async () => {
    await withDbs(1, async ([db]) => {
      const t = new MutableTree(db, { layout: 'legacy', fastNodes: true });
      await t.loadVersion();
      t.set(new Uint8Array([1]), new Uint8Array([10]));
      t.set(new Uint8Array([2]), new Uint8Array([20]));
      await t.saveVersion();
      t.remove(new Uint8Array([1]));
      await t.saveVersion();
      // A reopened tree detects the index from its storage_version metadata.
      const r = new MutableTree(db, { layout: 'legacy' });
      await r.loadVersion();
      expect(r.fastNodesEnabled).toBe(true);
      expect(await r.getFast(new Uint8Array([2]))).toEqual({ value: new Uint8Array([20]) });
      expect(await r.getFast(new Uint8Array([1]))).toEqual({ value: undefined });
      const raw = await r.kv.get(new TextEncoder().encode('mstorage_version'));
      expect(new TextDecoder().decode(raw)).toBe('1.1.0-2');
    });
  });
});
