import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LevelDatabase } from '../../src/db/kv-db.js';
import { KvDb } from '../../src/db/kv-db.js';
import { openDb } from '../../src/db/open-db.js';
import { ByteWriter } from '../../src/encoding/byte-writer.js';
import { utf8 } from '../../src/encoding/bytes.js';
import { StoreMigrateError } from '../../src/errors.js';
import type { ExportNode } from '../../src/iavl/immutable-tree.js';
import { Importer } from '../../src/iavl/importer.js';
import { MutableTree } from '../../src/iavl/mutable-tree.js';
import { decodeLegacyNode, decodeNodeKeyNode, nodeKeyBytes } from '../../src/iavl/node-codec.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();

async function buildTree(db: LevelDatabase, layout: 'legacy' | 'node-key'): Promise<MutableTree> {
  const t = new MutableTree(db, { layout });
  await t.loadVersion();
  for (let i = 0; i < 64; i++) t.set(utf8(`k${String(i).padStart(3, '0')}`), utf8(`value-${i}`));
  await t.saveVersion();
  return t;
}

/** Every key of the tree through a fresh tree object (cold cache), collecting the error. */
async function readAll(
  db: LevelDatabase,
  layout: 'legacy' | 'node-key',
): Promise<StoreMigrateError | undefined> {
  const fresh = new MutableTree(db, { layout });
  try {
    await fresh.loadVersion();
    const t = fresh.getImmutable(1);
    for (let i = 0; i < 64; i++) t.get(utf8(`k${String(i).padStart(3, '0')}`));
    [...t.iterate()];
  } catch (err) {
    if (err instanceof StoreMigrateError) return err;
    throw err;
  }
  return undefined;
}

/** The stored entry of some leaf node (the first one found). */
async function someLeaf(db: LevelDatabase, prefix: number): Promise<[Uint8Array, Uint8Array]> {
  for await (const [k, v] of new KvDb(db).iterate({
    gte: new Uint8Array([prefix]),
    lt: new Uint8Array([prefix + 1]),
  })) {
    if (v.length > 0 && v[0] === 0 && v[1] === 2) return [k, v]; // height 0, size 1
  }
  throw new Error('no leaf');
}

function expectCode(fn: () => unknown, code: string): void {
  let err: unknown;
  const t0 = performance.now();
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(StoreMigrateError);
  expect((err as StoreMigrateError).code).toBe(code);
  expect(performance.now() - t0).toBeLessThan(1000);
}

describe('corrupt legacy nodes', () => {
  it('a node whose bytes do not hash to its key: ERR_HASH_MISMATCH', async () => {
    const db = await openDb(join(tempDir('c'), 'db'));
    await buildTree(db, 'legacy');
    const [k, v] = await someLeaf(db, 0x6e);
    const bad = v.slice();
    bad[bad.length - 1] ^= 0x01; // same length, different value
    await new KvDb(db).put(k, bad);
    expect((await readAll(db, 'legacy'))?.code).toBe('ERR_HASH_MISMATCH');
    await db.close();
  });

  it('a missing child: ERR_MISSING_NODE', async () => {
    const db = await openDb(join(tempDir('c'), 'db'));
    await buildTree(db, 'legacy');
    const [k] = await someLeaf(db, 0x6e);
    await new KvDb(db).del(k);
    expect((await readAll(db, 'legacy'))?.code).toBe('ERR_MISSING_NODE');
    await db.close();
  });

  it('height over 127: ERR_INVALID_HEIGHT', () => {
    const bytes = new ByteWriter()
      .varint(200)
      .varint(3)
      .varint(1)
      .bytes(utf8('k'))
      .bytes(new Uint8Array(32))
      .bytes(new Uint8Array(32))
      .finish();
    expectCode(() => decodeLegacyNode(new Uint8Array(32), bytes), 'ERR_INVALID_HEIGHT');
    const nk = new ByteWriter().varint(128).varint(3).bytes(utf8('k')).finish();
    expectCode(() => decodeNodeKeyNode(nodeKeyBytes(1, 1), nk), 'ERR_INVALID_HEIGHT');
  });

  it('truncated node bytes: ERR_CORRUPT_NODE, at every cut', async () => {
    const db = await openDb(join(tempDir('c'), 'db'));
    await buildTree(db, 'legacy');
    const [k, v] = await someLeaf(db, 0x6e);
    for (let cut = 0; cut < v.length; cut++) {
      expectCode(() => decodeLegacyNode(k.subarray(1), v.subarray(0, cut)), 'ERR_CORRUPT_NODE');
    }
    await new KvDb(db).put(k, v.subarray(0, v.length - 2));
    expect((await readAll(db, 'legacy'))?.code).toBe('ERR_CORRUPT_NODE');
    await db.close();
  });
});

describe('corrupt node-key nodes', () => {
  it('truncated bytes and missing children are typed errors', async () => {
    const db = await openDb(join(tempDir('c'), 'db'));
    await buildTree(db, 'node-key');
    const [k, v] = await someLeaf(db, 0x73);
    for (let cut = 0; cut < v.length; cut++) {
      expectCode(() => decodeNodeKeyNode(k.subarray(1), v.subarray(0, cut)), 'ERR_CORRUPT_NODE');
    }
    await new KvDb(db).put(k, v.subarray(0, v.length - 1));
    expect((await readAll(db, 'node-key'))?.code).toBe('ERR_CORRUPT_NODE');
    await new KvDb(db).del(k);
    expect((await readAll(db, 'node-key'))?.code).toBe('ERR_MISSING_NODE');
    await db.close();
  });
});

describe('import stream validation', () => {
  async function exported(): Promise<ExportNode[]> {
    const db = await openDb(join(tempDir('c'), 'src'));
    const t = await buildTree(db, 'legacy');
    const nodes = [...t.getImmutable(1).export()];
    await db.close();
    return nodes;
  }

  async function importInto(nodes: ExportNode[], version = 1): Promise<StoreMigrateError | undefined> {
    const db = await openDb(join(tempDir('c'), 'dst'));
    const t = new MutableTree(db, { layout: 'node-key' });
    await t.loadVersion();
    try {
      const imp = new Importer(t, version);
      await imp.addAll(nodes);
      await imp.commit();
    } catch (err) {
      if (err instanceof StoreMigrateError) return err;
      throw err;
    } finally {
      await db.close();
    }
    return undefined;
  }

  it('accepts the untouched stream', async () => {
    expect(await importInto(await exported())).toBeUndefined();
  });

  it('rejects two leaves out of order: ERR_IMPORT_ORDER', async () => {
    const nodes = await exported();
    const [i, j] = [0, 1];
    [nodes[i], nodes[j]] = [nodes[j], nodes[i]];
    expect((await importInto(nodes))?.code).toBe('ERR_IMPORT_ORDER');
  });

  it('rejects a parent before its children: ERR_IMPORT_ORDER', async () => {
    const nodes = await exported();
    const inner = nodes.findIndex((n) => n.height === 1);
    const moved = nodes.splice(inner, 1)[0];
    nodes.splice(inner - 2, 0, moved);
    expect((await importInto(nodes))?.code).toBe('ERR_IMPORT_ORDER');
  });

  it('rejects a truncated stream: ERR_IMPORT_INCOMPLETE', async () => {
    const nodes = await exported();
    expect((await importInto(nodes.slice(0, -1)))?.code).toBe('ERR_IMPORT_INCOMPLETE');
  });

  it('rejects a node version above the import height and a height over 127', async () => {
    const nodes = await exported();
    expect((await importInto(nodes.map((n, i) => (i === 3 ? { ...n, version: 2 } : n))))?.code).toBe(
      'ERR_CORRUPT_NODE',
    );
    expect((await importInto(nodes.map((n, i) => (i === 2 ? { ...n, height: 128 } : n))))?.code).toBe(
      'ERR_INVALID_HEIGHT',
    );
  });

  it('rejects a wrong inner key: ERR_IMPORT_ORDER', async () => {
    const nodes = await exported();
    const inner = nodes.findIndex((n) => n.height === 1);
    nodes[inner] = { ...nodes[inner], key: utf8('zzz') };
    expect((await importInto(nodes))?.code).toBe('ERR_IMPORT_ORDER');
  });
});
