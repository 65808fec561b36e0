import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LevelDatabase } from '../../src/db/kv-db.js';
import { KvDb } from '../../src/db/kv-db.js';
import { openDb } from '../../src/db/open-db.js';
import { toHex } from '../../src/encoding/bytes.js';
import type { ExportNode, ImmutableTree } from '../../src/iavl/immutable-tree.js';
import { MutableTree } from '../../src/iavl/mutable-tree.js';
import type { PrefetchExportOptions } from '../../src/iavl/prefetch-export.js';
import { Rng, trickyKeys } from '../helpers/random.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
const LAYOUTS = ['legacy', 'node-key'] as const;

/** A tree with history: 8 versions of random sets and removes over a tricky key pool. */
async function buildTree(db: LevelDatabase, layout: (typeof LAYOUTS)[number]): Promise<MutableTree> {
  const rng = new Rng(20261122);
  const pool = trickyKeys(rng, 3000);
  const t = new MutableTree(db, { layout });
  await t.loadVersion();
  for (let v = 0; v < 8; v++) {
    for (let i = 0; i < 600; i++) {
      const k = rng.pick(pool);
      if (rng.int(4) === 0) t.remove(k);
      else t.set(k, rng.bytes(rng.int(40)));
    }
    await t.saveVersion();
  }
  return t;
}

function show(nodes: Iterable<ExportNode>): string[] {
  const out: string[] = [];
  for (const n of nodes)
    out.push(`${n.height}/${n.version}/${toHex(n.key)}/${n.value ? toHex(n.value) : '-'}`);
  return out;
}

async function collect(tree: ImmutableTree, options: PrefetchExportOptions): Promise<ExportNode[]> {
  const out: ExportNode[] = [];
  for await (const chunk of tree.exportChunks(options)) out.push(...chunk);
  return out;
}

/** The same tree through a new MutableTree: cold node cache, every node read from disk. */
async function cold(db: LevelDatabase, layout: (typeof LAYOUTS)[number], version: number) {
  const fresh = new MutableTree(db, { layout });
  await fresh.loadVersion();
  return fresh.getImmutable(version);
}

describe.each(LAYOUTS)('exportChunks on a %s tree', (layout) => {
  it('yields exactly the post-order of export(), for any subtree height, verified or not', async () => {
    const db = await openDb(join(tempDir('p'), 'db'));
    const t = await buildTree(db, layout);
    // Pruning moves a shared node-key root to nonce 0; the batched read must still find it.
    await t.deleteVersionsTo(4);
    for (const version of [5, 8]) {
      const expected = show((await cold(db, layout, version)).export());
      expect(expected.length).toBeGreaterThan(1000);
      for (const subtreeHeight of [0, 1, 3, 10, 200]) {
        for (const verify of [true, false]) {
          const got = await collect(await cold(db, layout, version), { subtreeHeight, verify, ahead: 3 });
          expect(show(got), `h=${subtreeHeight} verify=${verify}`).toEqual(expected);
        }
      }
    }
    // A warm tree (nodes in the cache, the working root in memory) gives the same.
    expect(show(await collect(t.getImmutable(8), {}))).toEqual(show(t.getImmutable(8).export()));
    await db.close();
  });

  it('a missing node is ERR_MISSING_NODE, not a shorter export', async () => {
    const db = await openDb(join(tempDir('p'), 'db'));
    const t = await buildTree(db, layout);
    await kvDel(db, await leafOfLatest(db, t));
    await expect(
      collect(await cold(db, layout, 8), { subtreeHeight: 4, verify: false }),
    ).rejects.toMatchObject({
      code: 'ERR_MISSING_NODE',
    });
    await db.close();
  });
});

/** The stored key of a leaf written at the latest version (8), so surely reachable from it. */
async function leafOfLatest(db: LevelDatabase, t: MutableTree): Promise<Uint8Array> {
  const leaf = [...t.getImmutable(8).export()].find((n) => n.height === 0 && n.version === 8)!;
  const tag = t.layout === 'legacy' ? 0x6e : 0x73;
  for await (const [k, v] of new KvDb(db).iterate({
    gte: new Uint8Array([tag]),
    lt: new Uint8Array([tag + 1]),
  })) {
    if (v[0] === 0 && v[1] === 2 && Buffer.from(v).includes(Buffer.from(leaf.key))) {
      // node-key records carry their version in the key; legacy ones in the body, as zigzag(8).
      if (t.layout === 'legacy' ? v[2] === 16 : k[8] === 8) return k;
    }
  }
  throw new Error('leaf not found');
}

async function kvDel(db: LevelDatabase, k: Uint8Array): Promise<void> {
  await new KvDb(db).del(k);
}

it('a legacy node whose bytes do not hash to its key fails a verified export with ERR_HASH_MISMATCH', async () => {
  const db = await openDb(join(tempDir('p'), 'db'));
  const t = await buildTree(db, 'legacy');
  const kv = new KvDb(db);
  const target = await leafOfLatest(db, t);
  const raw = (await kv.get(target))!;
  const bad = raw.slice();
  bad[bad.length - 1] ^= 1;
  await kv.put(target, bad);
  await expect(collect(await cold(db, 'legacy', 8), { subtreeHeight: 3 })).rejects.toMatchObject({
    code: 'ERR_HASH_MISMATCH',
  });
  await db.close();
});
