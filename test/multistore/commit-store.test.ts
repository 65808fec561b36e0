import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { utf8 } from '../../src/encoding/bytes.js';
import { MultiStoreV1 } from '../../src/v1/multi-store-v1.js';
import { FaultyLevel } from '../helpers/faulty-level.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();

function pairs(tag: string, n: number, value?: string) {
  return Array.from({ length: n }, (_, i) => ({
    key: utf8(`${tag}${(i * 31) % n}`),
    value: utf8(value ?? `${tag}-${i}`),
  }));
}

describe('CommitStore.commit', () => {
  it.each([
    // The read-ahead of the nodes the block visits fails: nothing is applied yet.
    { when: 'in the read-ahead', method: 'getMany', nth: 2, cacheBytes: undefined },
    // Applying reads nothing (the read-ahead's nodes are kept for the block); staging checks
    // each tree's next version with a point read, and store b's fails after store a has been
    // applied and staged. A cache too small to hold the read-ahead changes nothing.
    { when: 'after store a is staged', method: 'getSync', nth: 2, cacheBytes: 2048 },
  ])(
    'leaves no part of a changeset behind when a tree read fails $when',
    async ({ method, nth, cacheBytes }) => {
      const db = await FaultyLevel.open(join(tempDir('commit-store'), 'ms'));
      const ms = await MultiStoreV1.open(db, { stores: ['a', 'b'] });
      await ms.commit({
        changes: [
          { store: 'a', pairs: pairs('x', 500) },
          { store: 'b', pairs: pairs('y', 500) },
        ],
      });
      const before = await ms.getCommitInfo(1);
      const block = {
        changes: [
          { store: 'a', pairs: pairs('x', 40, 'new') },
          { store: 'b', pairs: pairs('z', 40) },
        ],
      };
      // A second handle with cold node caches: applying the block reads the trees.
      const cold = await MultiStoreV1.open(db, { stores: ['a', 'b'], cacheBytes });
      const fault = db.failRead({ nth, match: (info) => info.method === method });
      await expect(cold.commit(block)).rejects.toMatchObject({ code: 'ERR_DB_IO' });
      expect(fault.fired).toBe(1);
      expect(cold.latestVersion).toBe(1);
      expect(await cold.versions()).toEqual([1]);
      // The working trees went back to version 1: another block commits on top of version 1
      // alone, as a store that never saw the failed one computes it.
      const other = { changes: [{ store: 'b', pairs: pairs('w', 10) }] };
      const ci = await cold.commit(other);
      expect(ci.version).toBe(2);
      const reference = await MultiStoreV1.open(
        await FaultyLevel.open(join(tempDir('commit-store'), 'ref')),
        {
          stores: ['a', 'b'],
        },
      );
      await reference.commit({
        changes: [
          { store: 'a', pairs: pairs('x', 500) },
          { store: 'b', pairs: pairs('y', 500) },
        ],
      });
      expect((await reference.getCommitInfo(1)).appHash).toEqual(before.appHash);
      expect((await reference.commit(other)).appHash).toEqual(ci.appHash);
      expect((await cold.query('a', utf8('x1'))).value).toEqual(
        (await reference.query('a', utf8('x1'))).value,
      );
      expect((await cold.query('a', utf8('x1'))).value).not.toEqual(utf8('new'));
      await db.close();
    },
  );
});
