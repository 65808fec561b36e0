import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KvDb } from '../../src/db/kv-db.js';
import { openDb } from '../../src/db/open-db.js';
import { readU32be } from '../../src/encoding/byte-writer.js';
import { toHex, utf8 } from '../../src/encoding/bytes.js';
import { decodeImporterState, Importer } from '../../src/iavl/importer.js';
import { MutableTree } from '../../src/iavl/mutable-tree.js';
import { nodeKeyBytes } from '../../src/iavl/node-codec.js';
import type { ExportNode } from '../../src/iavl/tree-walk.js';
import { FaultyLevel } from '../helpers/faulty-level.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
const CHECKPOINT = utf8('c/import');
const S = 0x73;

/** A saved legacy tree of `keys` keys and its post-order export. */
async function source(keys: number): Promise<{ hash: Uint8Array; version: number; nodes: ExportNode[] }> {
  const db = await openDb(join(tempDir('importer'), 'source'));
  const tree = new MutableTree(db, { layout: 'legacy' });
  await tree.loadVersion();
  for (let i = 0; i < keys; i++) tree.set(utf8(`key-${(i * 7919) % keys}`), utf8(`value-${i}`.repeat(3)));
  const saved = await tree.saveVersion();
  const nodes = [...tree.getImmutable(saved.version).export({ verify: false })];
  await db.close();
  return { ...saved, nodes };
}

/**
 * Arrival indices of the node-key nodes a batch puts (their nonce is 2 + index); commit's
 * move of the root to nonce 1 is not an arrival.
 */
function arrivalIndices(ops: Array<{ type: string; key: Uint8Array }>): number[] {
  return ops
    .filter((o) => o.type === 'put' && o.key.length === 13 && o.key[0] === S)
    .map((o) => readU32be(o.key, 9) - 2)
    .filter((i) => i >= 0);
}

describe('Importer', () => {
  it('writes one batch at a time, in order, while the next one fills', async () => {
    const src = await source(3000);
    // The public batch path, so each write arrives as one _batch call with its operations.
    const db = await FaultyLevel.open(join(tempDir('importer'), 'target'), { nativeBatch: false });
    db.setDelays({ writes: 5 });
    // Watch the writes as they reach the database: how many overlap, and which nodes each holds.
    let inflight = 0;
    let maxInflight = 0;
    const batches: number[][] = [];
    const target = db as unknown as {
      _batch(ops: Array<{ type: string; key: Uint8Array }>, o: object): Promise<void>;
    };
    const write = target._batch.bind(db);
    target._batch = async (ops, o) => {
      inflight++;
      maxInflight = Math.max(maxInflight, inflight);
      batches.push(arrivalIndices(ops));
      try {
        await write(ops, o);
      } finally {
        inflight--;
      }
    };
    const tree = new MutableTree(db, { layout: 'node-key' });
    await tree.loadVersion();
    const imp = new Importer(tree, src.version, { batchBytes: 16 * 1024, checkpointKey: CHECKPOINT });
    await imp.addAll(src.nodes);
    const result = await imp.commit();
    expect(result.hash).toEqual(src.hash);
    expect(tree.getImmutable(src.version).hash).toEqual(src.hash);
    expect(maxInflight).toBe(1);
    const withNodes = batches.filter((b) => b.length > 0);
    expect(withNodes.length).toBeGreaterThan(5);
    for (let i = 1; i < withNodes.length; i++) {
      expect(Math.min(...withNodes[i])).toBeGreaterThan(Math.max(...withNodes[i - 1]));
    }
    await db.close();
  });

  it('throws a failed write from the next flush, and its last checkpoint resumes to the same root', async () => {
    const src = await source(3000);
    const db = await FaultyLevel.open(join(tempDir('importer'), 'target'));
    const fault = db.failWrite({ nth: 3, kind: 'ENOSPC', match: (info) => info.method === 'batch' });
    const tree = new MutableTree(db, { layout: 'node-key' });
    await tree.loadVersion();
    const imp = new Importer(tree, src.version, { batchBytes: 16 * 1024, checkpointKey: CHECKPOINT });
    await expect(imp.addAll(src.nodes)).rejects.toMatchObject({ code: 'ERR_DB_IO' });
    expect(fault.fired).toBe(1);
    expect(imp.count).toBeLessThan(src.nodes.length);

    // The checkpoint on disk came with the last batch that was written, so the nodes it
    // counts are all there: resuming from it rebuilds the same tree.
    db.heal();
    const saved = await new KvDb(db).get(CHECKPOINT);
    expect(saved).toBeDefined();
    const state = decodeImporterState(saved!);
    expect(state.count).toBeGreaterThan(0);
    expect(state.count).toBeLessThan(imp.count);
    const again = new MutableTree(db, { layout: 'node-key' });
    await again.loadVersion();
    const resumed = Importer.resume(again, src.version, state, { checkpointKey: CHECKPOINT });
    await resumed.addAll(src.nodes.slice(state.count));
    const result = await resumed.commit();
    expect(result.hash).toEqual(src.hash);
    expect(await new KvDb(db).get(CHECKPOINT)).toBeUndefined();
    await db.close();
  });

  it('takes a synchronous or an asynchronous stream alike', async () => {
    const src = await source(500);
    const hashes = [];
    for (const input of [
      src.nodes,
      (async function* () {
        yield* src.nodes;
      })(),
    ]) {
      const db = await openDb(join(tempDir('importer'), 'target'));
      const tree = new MutableTree(db, { layout: 'node-key' });
      await tree.loadVersion();
      const imp = new Importer(tree, src.version, { batchBytes: 4096 });
      await imp.addAll(input);
      hashes.push((await imp.commit()).hash);
      await db.close();
    }
    expect(hashes).toEqual([src.hash, src.hash]);
  });

  it("keeps a node-key source's keys with keepNodeKeys: the copy is the source node for node", async () => {
    const db = await openDb(join(tempDir('importer'), 'source'));
    const src = new MutableTree(db, { layout: 'node-key' });
    await src.loadVersion();
    for (let v = 1; v <= 6; v++) {
      for (let i = 0; i < 400; i++) src.set(utf8(`key-${(i * 7919 + v * 31) % 1500}`), utf8(`v${v}-${i}`));
      await src.saveVersion();
    }
    const nodes = [...src.getImmutable(6).export({ verify: false })];
    const refs = nodes.map((n) => toHex(n.ref!));
    expect(new Set(nodes.map((n) => n.version)).size).toBeGreaterThan(3);
    const dst = await openDb(join(tempDir('importer'), 'target'));
    const tree = new MutableTree(dst, { layout: 'node-key' });
    await tree.loadVersion();
    const imp = new Importer(tree, 6, { keepNodeKeys: true });
    await imp.addAll(nodes);
    expect((await imp.commit()).hash).toEqual(src.getImmutable(6).hash);
    const again = [...tree.getImmutable(6).export({ verify: false })].map((n) => toHex(n.ref!));
    expect(again).toEqual(refs);
    // Without the option the keys are new: (node version, 2 + arrival index).
    const plain = await openDb(join(tempDir('importer'), 'plain'));
    const t2 = new MutableTree(plain, { layout: 'node-key' });
    await t2.loadVersion();
    const imp2 = new Importer(t2, 6);
    await imp2.addAll(nodes);
    await imp2.commit();
    expect([...t2.getImmutable(6).export({ verify: false })].map((n) => toHex(n.ref!))).not.toEqual(refs);
    for (const d of [db, dst, plain]) await d.close();
  });

  it('refuses a kept node key of another version than its node (ERR_CORRUPT_NODE)', async () => {
    const src = await source(50);
    const db = await openDb(join(tempDir('importer'), 'target'));
    const tree = new MutableTree(db, { layout: 'node-key' });
    await tree.loadVersion();
    const imp = new Importer(tree, src.version, { keepNodeKeys: true });
    const first = { ...src.nodes[0], ref: nodeKeyBytes(src.nodes[0].version + 1, 5) };
    expect(() => imp.add(first)).toThrow(expect.objectContaining({ code: 'ERR_CORRUPT_NODE' }));
    await db.close();
  });
});
