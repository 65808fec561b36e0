import { join } from 'node:path';
import { iavlSpec, tendermintSpec, verifyMembership, verifyNonMembership } from '@confio/ics23';
import { describe, expect, it } from 'vitest';
import { openDb } from '../../src/db/open-db.js';
import { toHex, utf8 } from '../../src/encoding/bytes.js';
import type { Changeset } from '../../src/encoding/changeset.js';
import { MultiStoreV1 } from '../../src/v1/multi-store-v1.js';
import { dumpDb } from '../helpers/db-dump.js';
import { copyFixture } from '../helpers/fixtures.js';
import { decodeForVerifier } from '../helpers/ics23.js';
import { Rng } from '../helpers/random.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
const STORES = ['acc', 'bank', 'gov', 'staking', 'upgrade', 'wasm'];

function randomChangeset(rng: Rng, n: number): Changeset {
  const byStore = new Map<string, Changeset['changes'][number]>();
  for (let i = 0; i < n; i++) {
    const store = rng.pick(STORES.slice(0, 5)); // wasm stays empty
    const sc = byStore.get(store) ?? { store, pairs: [] };
    byStore.set(store, sc);
    const key = utf8(`k${rng.int(300)}`);
    if (rng.next() < 0.2) sc.pairs.push({ key, remove: true });
    else sc.pairs.push({ key, value: rng.bytes(1 + rng.int(50)) });
  }
  return { changes: [...byStore.values()] };
}

describe('MultiStoreV1', () => {
  it('proves each store root in the app hash and each key in its store root (ICS23)', async () => {
    const db = await openDb(join(tempDir('v1'), 'application.db'));
    try {
      const ms = await MultiStoreV1.open(db, { stores: STORES });
      const rng = new Rng(5);
      for (let v = 1; v <= 10; v++) {
        const ci = await ms.commit(randomChangeset(rng, 200));
        expect(ci.version).toBe(v);
      }
      for (const height of [4, 10]) {
        const ci = await ms.getCommitInfo(height);
        expect(ci.stores.map((s) => s.name)).toEqual(STORES);
        for (const store of STORES) {
          for (const k of ['k1', 'k2', 'k17', 'k150', 'k299', 'zzz', 'a']) {
            const key = utf8(k);
            const r = await ms.query(store, key, height, true);
            expect(r.height).toBe(height);
            const [iavlOp, simpleOp] = r.proof!.ops;
            expect(iavlOp.type).toBe('ics23:iavl');
            expect(simpleOp.type).toBe('ics23:simple');
            expect(toHex(simpleOp.key)).toBe(toHex(utf8(store)));
            const storeRoot = ci.stores.find((s) => s.name === store)!.hash;
            // The store root inside the app hash: tendermint spec.
            expect(
              verifyMembership(
                decodeForVerifier(simpleOp.data),
                tendermintSpec,
                ci.appHash,
                utf8(store),
                storeRoot,
              ),
            ).toBe(true);
            // The key inside the store root: iavl spec.
            const p = decodeForVerifier(iavlOp.data);
            if (r.value !== undefined) {
              expect(verifyMembership(p, iavlSpec, storeRoot, key, r.value)).toBe(true);
            } else if (store !== 'wasm') {
              expect(verifyNonMembership(p, iavlSpec, storeRoot, key)).toBe(true);
            }
          }
        }
        // The empty store's root is sha256("") and is still part of the app hash.
        expect(toHex(ci.stores.find((s) => s.name === 'wasm')!.hash)).toBe(
          'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
        );
      }
      // Reopening reads the same state.
      const again = await MultiStoreV1.open(db);
      expect(again.latestVersion).toBe(10);
      expect(again.storeNames()).toEqual(STORES);
      expect(toHex((await again.getCommitInfo(10)).appHash)).toBe(toHex(ms.lastCommitInfo!.appHash));
    } finally {
      await db.close();
    }
  });

  it('keeps only the last N versions when asked', async () => {
    const db = await openDb(join(tempDir('v1'), 'application.db'));
    try {
      const ms = await MultiStoreV1.open(db, { stores: ['a', 'b'], keepRecent: 3 });
      const rng = new Rng(1);
      for (let v = 1; v <= 8; v++) {
        await ms.commit({
          changes: [
            { store: rng.pick(['a', 'b']), pairs: [{ key: utf8(`k${v % 3}`), value: rng.bytes(4) }] },
          ],
        });
      }
      expect(await ms.versions()).toEqual([6, 7, 8]);
      expect(await ms.tree('a').availableVersions()).toEqual([6, 7, 8]);
      await expect(ms.query('a', utf8('k1'), 2)).rejects.toMatchObject({ code: 'ERR_VERSION_PRUNED' });
      await expect(ms.query('a', utf8('k1'), 6)).resolves.toMatchObject({ height: 6 });
    } finally {
      await db.close();
    }
  });

  it('refuses bad commits and queries with typed errors, writing nothing', async () => {
    const db = await openDb(join(tempDir('v1'), 'application.db'));
    try {
      const ms = await MultiStoreV1.open(db, { stores: ['bank'] });
      await ms.commit({ changes: [{ store: 'bank', pairs: [{ key: utf8('a'), value: utf8('1') }] }] });
      const before = await dumpDb(db);
      const ok: Changeset = { changes: [{ store: 'bank', pairs: [{ key: utf8('b'), value: utf8('2') }] }] };
      await expect(ms.commit(ok, 3)).rejects.toMatchObject({ code: 'ERR_CHANGESET_GAP' });
      await expect(ms.commit(ok, 1)).rejects.toMatchObject({ code: 'ERR_VERSION_EXISTS' });
      await expect(
        ms.commit({ changes: [{ store: 'nope', pairs: [{ key: utf8('b'), value: utf8('2') }] }] }),
      ).rejects.toMatchObject({ code: 'ERR_UNKNOWN_STORE' });
      await expect(
        ms.commit({
          changes: [
            {
              store: 'bank',
              pairs: [
                { key: utf8('c'), value: utf8('3') },
                { key: new Uint8Array(0), value: utf8('2') },
              ],
            },
          ],
        }),
      ).rejects.toMatchObject({ code: 'ERR_EMPTY_KEY' });
      await expect(ms.query('bank', utf8('a'), 7)).rejects.toMatchObject({ code: 'ERR_VERSION_NOT_FOUND' });
      await expect(ms.query('nope', utf8('a'))).rejects.toMatchObject({ code: 'ERR_UNKNOWN_STORE' });
      expect(await dumpDb(db)).toEqual(before);
      // The store is still usable, and the rejected changes left no trace in the working tree.
      const ci = await ms.commit(ok, 2);
      expect(ci.version).toBe(2);
      expect((await ms.query('bank', utf8('c'))).value).toBeUndefined();
      expect((await ms.query('bank', utf8('b'))).value).toEqual(utf8('2'));
    } finally {
      await db.close();
    }
  });

  it('opens a bare cosmos/iavl tree read-only, as one store', async () => {
    const fx = copyFixture('iavl-0.13/0.13-orphans.db');
    const db = await openDb(fx.path, { createIfMissing: false });
    try {
      const ms = await MultiStoreV1.open(db);
      expect(ms.layout).toBe('iavl');
      expect(ms.latestVersion).toBe(6);
      expect(await ms.versions()).toEqual([3, 6]);
      expect(toHex((await ms.getCommitInfo(6)).appHash)).toBe(
        '4ec1cacc0aab872cce477890398b63e534f6bc83011ac52086a69cbb65ef936d',
      );
      expect((await ms.query('iavl', utf8('current'), 3)).value).toEqual(new Uint8Array([3]));
      await expect(ms.commit({ changes: [] })).rejects.toMatchObject({ code: 'ERR_READ_ONLY' });
    } finally {
      await db.close();
      fx.cleanup();
    }
  });
});
