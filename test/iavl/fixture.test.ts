import { afterEach, describe, expect, it } from 'vitest';
import { KvDb } from '../../src/db/kv-db.js';
import { openDb } from '../../src/db/open-db.js';
import { toHex, utf8 } from '../../src/encoding/bytes.js';
import { MutableTree } from '../../src/iavl/mutable-tree.js';
import { decodeLegacyNode } from '../../src/iavl/node-codec.js';
import { copyFixture } from '../helpers/fixtures.js';
import { useTempDirs } from '../helpers/temp-dir.js';

// Facts from test/fixtures/iavl-0.13/README.md (Go cosmos/iavl 0.13 wrote these databases).
const ROOTS: Record<number, string> = {
  3: '6ed927d6debdb9597874b818322f1ed54b7c192620c71654f3dc30aebeb56b5b',
  6: '4ec1cacc0aab872cce477890398b63e534f6bc83011ac52086a69cbb65ef936d',
};

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});
const tempDir = useTempDirs();

function expectFixtureState(get: (k: string) => Uint8Array | undefined, v: number): void {
  expect(get('current')).toEqual(new Uint8Array([v]));
  for (let i = 1; i <= 8; i++) {
    if (i <= v) {
      expect(get(`add${i}`)).toEqual(new Uint8Array([i]));
      expect(get(`rm${i}`)).toBeUndefined();
    } else {
      expect(get(`add${i}`)).toBeUndefined();
      expect(get(`rm${i}`)).toEqual(new Uint8Array([1]));
    }
  }
}

describe.each(['0.13-orphans.db', '0.13-orphans-v6.db'])('Go iavl 0.13 fixture %s', (name) => {
  it('reads versions, roots, every node and the documented contents', async () => {
    const fx = copyFixture(`iavl-0.13/${name}`);
    cleanups.push(fx.cleanup);
    const db = await openDb(fx.path, { createIfMissing: false });
    try {
      const tree = new MutableTree(db, { layout: 'legacy' });
      expect(await tree.availableVersions()).toEqual([3, 6]);
      expect(await tree.loadVersion()).toBe(6);
      for (const v of [3, 6]) {
        const t = tree.getImmutable(v);
        expect(toHex(t.hash)).toBe(ROOTS[v]);
        expectFixtureState((k) => t.get(utf8(k)), v);
        // Iteration agrees with point reads and is sorted.
        const keys = [...t.iterate()].map(([k]) => Buffer.from(k).toString());
        expect(keys).toEqual([...keys].sort());
        expect(keys.length).toBe(t.size);
      }
      // Every stored node's key is the hash of its contents (decodeLegacyNode checks it).
      let nodes = 0;
      for await (const [k, v] of new KvDb(db).iterate({ gte: utf8('n'), lt: utf8('o') })) {
        const node = decodeLegacyNode(k.subarray(1), v);
        expect(toHex(node.hash!)).toBe(toHex(k.subarray(1)));
        nodes++;
      }
      expect(nodes).toBeGreaterThan(10);
    } finally {
      await db.close();
    }
  });
});

describe.each(['legacy', 'node-key'] as const)('replaying the fixture operations (%s layout)', (layout) => {
  it('reproduces the Go root hashes at versions 3 and 6', async () => {
    const db = await openDb(tempDir('replay'));
    try {
      const tree = new MutableTree(db, { layout });
      await tree.loadVersion();
      for (let i = 1; i <= 8; i++) tree.set(utf8(`rm${i}`), new Uint8Array([1]));
      for (let v = 1; v <= 8; v++) {
        tree.set(utf8('current'), new Uint8Array([v]));
        tree.set(utf8(`add${v}`), new Uint8Array([v]));
        expect(tree.remove(utf8(`rm${v}`))).toEqual(new Uint8Array([1]));
        const { hash, version } = await tree.saveVersion();
        expect(version).toBe(v);
        if (ROOTS[v]) expect(toHex(hash)).toBe(ROOTS[v]);
      }
      for (const v of [3, 6]) {
        const t = tree.getImmutable(v);
        expect(toHex(t.hash)).toBe(ROOTS[v]);
        expectFixtureState((k) => t.get(utf8(k)), v);
      }
      // A fresh tree object reads the same from disk.
      const reopened = new MutableTree(db, { layout });
      expect(await reopened.loadVersion()).toBe(8);
      expect(toHex(reopened.getImmutable(6).hash)).toBe(ROOTS[6]);
    } finally {
      await db.close();
    }
  });
});
