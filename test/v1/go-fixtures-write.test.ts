import { afterEach, describe, expect, it } from 'vitest';
import { KvDb } from '../../src/db/kv-db.js';
import { openDb } from '../../src/db/open-db.js';
import { fromUtf8, toHex, utf8 } from '../../src/encoding/bytes.js';
import type { Changeset } from '../../src/encoding/changeset.js';
import { MutableTree } from '../../src/iavl/mutable-tree.js';
import { decodeNodeKeyNode, nodeKeyBytes } from '../../src/iavl/node-codec.js';
import { MultiStoreV1 } from '../../src/v1/multi-store-v1.js';
import { copyFixture } from '../helpers/fixtures.js';
import { useTempDirs } from '../helpers/temp-dir.js';

// New versions of a v1 go in the layout its trees have, as the Go node that owns it writes
// them (the live check that Go reopens them is in test/interop).
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
const tempDir = useTempDirs();

function block(stores: string[], n: number): Changeset {
  return {
    changes: stores.map((store) => ({
      store,
      pairs: [
        { key: utf8(`written-by-us/${n}`), value: utf8(`${store}-${n}`) },
        { key: utf8(`written-by-us/${n - 1}`), remove: true },
      ],
    })),
  };
}

/** Counts the keys under a store's prefix by their layout byte. */
async function layoutKeys(kv: KvDb, store: string, from: Uint8Array): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for await (const k of kv.sub(utf8(`s/k:${store}/`)).keys({ gte: from })) {
    out[String.fromCharCode(k[0])] = (out[String.fromCharCode(k[0])] ?? 0) + 1;
  }
  return out;
}

describe.each([
  ['v050', 'node-key'],
  ['upgraded', 'node-key'],
  ['v047', 'legacy'],
  ['v045', 'legacy'],
])('committing to the Go fixture %s', (name, layout) => {
  it(`writes ${layout} nodes, keeps fast nodes current, and reopens with the same app hashes`, async () => {
    const fx = copyFixture(`go/${name}/application.db`);
    cleanups.push(fx.cleanup);
    let db = await openDb(fx.path, { createIfMissing: false });
    let ms = await MultiStoreV1.open(db);
    const stores = ms.storeNames();
    const hashes: string[] = [];
    for (let v = 51; v <= 53; v++) hashes.push(toHex((await ms.commit(block(stores, v), v)).appHash));
    for (const s of stores) expect(ms.tree(s).layout).toBe(layout);
    await db.close();

    db = await openDb(fx.path, { createIfMissing: false });
    cleanups.push(() => db.close());
    ms = await MultiStoreV1.open(db, { readOnly: true });
    expect(ms.latestVersion).toBe(53);
    for (let v = 51; v <= 53; v++) expect(toHex((await ms.getCommitInfo(v)).appHash)).toBe(hashes[v - 51]);
    const kv = new KvDb(db);
    for (const s of stores) {
      const t = await ms.immutable(s, 53);
      expect(t.get(utf8('written-by-us/53'))).toEqual(utf8(`${s}-53`));
      expect(t.get(utf8('written-by-us/52'))).toBeUndefined();
      if (layout === 'node-key') {
        // Version 53's root sits at nonce 1, written in iavl v1's encoding; no legacy records.
        const after = await layoutKeys(kv, s, utf8('s\0\0\0\0\0\0\0\x33'));
        expect(Object.keys(after)).toEqual(['s']);
        const rootKey = new Uint8Array([...utf8(`s/k:${s}/s`), ...nodeKeyBytes(53, 1)]);
        const root = decodeNodeKeyNode(nodeKeyBytes(53, 1), (await kv.get(rootKey))!);
        expect(root.size).toBe(t.size);
      }
      // Fast nodes, where the store keeps them, are current for 53.
      const sv = await kv.get(utf8(`s/k:${s}/mstorage_version`));
      if (sv !== undefined) {
        expect(fromUtf8(sv)).toBe('1.1.0-53');
        expect(await kv.get(utf8(`s/k:${s}/fwritten-by-us/53`))).toBeDefined();
        expect(await kv.get(utf8(`s/k:${s}/fwritten-by-us/52`))).toBeUndefined();
      }
    }
    // Memory stores (v0.45) stay in every new commit info with an empty commit id.
    const treeless = (await ms.getCommitInfo(53)).stores
      .filter((s) => s.hash.length === 0)
      .map((s) => s.name);
    expect(treeless).toEqual(name === 'v045' ? ['mem_capability'] : []);
  });
});

describe('a tree continued in the node-key layout over a legacy one (an upgrade to iavl v1)', () => {
  it('saves an unchanged legacy root again at (its version, nonce 0) and refers to it, as iavl v1 does', async () => {
    const db = await openDb(tempDir('upgrade'));
    cleanups.push(() => db.close());
    const legacy = new MutableTree(db, { layout: 'legacy' });
    await legacy.loadVersion();
    for (let i = 0; i < 20; i++) legacy.set(utf8(`k${i}`), utf8(`v${i}`));
    const v1 = await legacy.saveVersion();
    legacy.set(utf8('k3'), utf8('changed'));
    const v2 = await legacy.saveVersion();

    const upgraded = new MutableTree(db, { layout: 'node-key' });
    expect(await upgraded.loadVersion()).toBe(2);
    const v3 = await upgraded.saveVersion(); // nothing changed
    expect(v3.hash).toEqual(v2.hash);
    const kv = new KvDb(db);
    const ref = (await kv.get(new Uint8Array([0x73, ...nodeKeyBytes(3, 1)])))!;
    expect(toHex(ref)).toBe(toHex(new Uint8Array([0x73, ...nodeKeyBytes(2, 0)])));
    const moved = decodeNodeKeyNode(
      nodeKeyBytes(2, 0),
      (await kv.get(new Uint8Array([0x73, ...nodeKeyBytes(2, 0)])))!,
    );
    expect(moved.hash).toEqual(v2.hash);
    expect(moved.leftRef).toHaveLength(32); // legacy children, mode 3
    expect(moved.rightRef).toHaveLength(32);

    upgraded.set(utf8('k4'), utf8('again'));
    await upgraded.saveVersion();
    const reread = new MutableTree(db, { layout: 'node-key' });
    expect(await reread.availableVersions()).toEqual([1, 2, 3, 4]);
    expect(reread.getImmutable(1).hash).toEqual(v1.hash);
    expect(reread.getImmutable(3).get(utf8('k3'))).toEqual(utf8('changed'));
    expect(reread.getImmutable(4).get(utf8('k4'))).toEqual(utf8('again'));
    expect(reread.getImmutable(4).get(utf8('k19'))).toEqual(utf8('v19'));
  });
});
