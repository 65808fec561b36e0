import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDb } from '../../src/db/open-db.js';
import { toHex, utf8 } from '../../src/encoding/bytes.js';
import type { Changeset } from '../../src/encoding/changeset.js';
import { MultiStoreV1 } from '../../src/v1/multi-store-v1.js';
import { StateCommitment } from '../../src/v2/commitment/state-commitment.js';
import { StateStorage } from '../../src/v2/storage/state-storage.js';
import { entriesHex } from '../helpers/model.js';
import { Rng } from '../helpers/random.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
const STORES = ['acc', 'bank', 'staking'];
const VERSIONS = 200;

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('the two worlds agree', () => {
  it(`v1 and v2 (SC + SS) fed the same ${VERSIONS} random changesets answer alike at every version`, async () => {
    const dir = tempDir('worlds');
    const v1db = await openDb(join(dir, 'application.db'));
    const v2db = await openDb(join(dir, 'v2'));
    try {
      const v1 = await MultiStoreV1.open(v1db, { stores: STORES });
      const sc = await StateCommitment.open(v2db, { stores: STORES });
      const ss = await StateStorage.open(v2db, { prefix: utf8('ss/') });
      const rng = new Rng(2026);
      const keys = Array.from({ length: 400 }, (_, i) =>
        i % 7 === 0 ? new Uint8Array([i & 0xff, 0, 0xff]) : utf8(`key/${i}`),
      );
      for (let v = 1; v <= VERSIONS; v++) {
        const cs: Changeset = {
          changes: STORES.map((store) => ({
            store,
            pairs: Array.from({ length: rng.int(25) }, () =>
              rng.next() < 0.25
                ? { key: rng.pick(keys), remove: true }
                : {
                    key: rng.pick(keys),
                    value: rng.int(6) === 0 ? new Uint8Array(0) : rng.bytes(1 + rng.int(30)),
                  },
            ),
          })),
        };
        const a = await v1.commit(cs, v);
        const b = await sc.commit(cs, v);
        await ss.applyChangeset(v, cs);
        expect(toHex(b.appHash), `app hash at ${v}`).toBe(toHex(a.appHash));
      }
      for (let v = 1; v <= VERSIONS; v++) {
        for (const store of STORES) {
          const tree = await v1.immutable(store, v);
          // Full range scans, both directions.
          expect(entriesHex(await collect(ss.iterate(store, v)))).toEqual(entriesHex(tree.iterate()));
          if (v % 20 === 0) {
            expect(entriesHex(await collect(ss.iterate(store, v, {}, { reverse: true })))).toEqual(
              entriesHex(tree.iterate({}, { reverse: true })),
            );
          }
          // Sampled point reads, present and absent.
          for (let i = 0; i < 10; i++) {
            const k = rng.pick(keys);
            expect(await ss.get(store, k, v)).toEqual(tree.get(k));
            expect((await sc.query(store, k, v)).value).toEqual(tree.get(k));
          }
        }
      }
    } finally {
      await v1db.close();
      await v2db.close();
    }
  });
});
