import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDb } from '../../src/db/open-db.js';
import { MultiStoreV1 } from '../../src/v1/multi-store-v1.js';
import { copyFixture, FIXTURES } from '../helpers/fixtures.js';
import { compareWithGo, type GoReport, readGoReport } from '../helpers/go-reference.js';

// Databases the real Go stores wrote (interop/go, `npm run fixtures:go`); each has Go's own
// reading of itself in expected.json. This issue reads the v0.47 ones; the other eras are
// read by the next (store v1 as every era writes it).
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function openFixture(name: string): Promise<{ ms: MultiStoreV1; go: GoReport }> {
  const fx = copyFixture(`go/${name}/application.db`);
  cleanups.push(fx.cleanup);
  const db = await openDb(fx.path, { createIfMissing: false });
  cleanups.push(() => db.close());
  const ms = await MultiStoreV1.open(db, { readOnly: true });
  return { ms, go: readGoReport(join(FIXTURES, 'go', name, 'expected.json')) };
}

describe('Go cosmos-sdk v0.47.17 fixture (iavl v0.20, legacy layout with fast nodes)', () => {
  it('matches Go at every height: app hash, each store version and root, and every key at the last height', async () => {
    const { ms, go } = await openFixture('v047');
    expect(go.modules['github.com/cosmos/cosmos-sdk']).toBe('v0.47.17');
    expect(go.queryable).toHaveLength(50);
    expect(ms.latestVersion).toBe(go.latestVersion);
    expect(await ms.versions()).toEqual(go.queryable);
    await compareWithGo(ms, go);
    // The content check covers real data, not an empty store.
    expect(Object.values(go.digests).reduce((n, d) => n + d.keys, 0)).toBeGreaterThan(500);
  });

  it.each([
    [
      'a store root',
      (go: GoReport) => {
        go.heights[16].stores[1].rootHash = '00'.repeat(32);
      },
      /^height 17 store bank: /,
    ],
    [
      'an app hash',
      (go: GoReport) => {
        go.heights[29].appHash = 'ff'.repeat(32);
      },
      /^height 30: our app hash/,
    ],
    [
      'a store version',
      (go: GoReport) => {
        go.heights[4].stores[2].version = 4;
      },
      /^height 5 store staking: /,
    ],
    [
      'a content digest',
      (go: GoReport) => {
        go.digests.acc.keys += 1;
      },
      /^height 50 store acc: /,
    ],
  ])(
    'an expected.json that disagrees with its database fails naming the height and store (%s)',
    async (_, edit, message) => {
      const { ms, go } = await openFixture('v047');
      edit(go);
      await expect(compareWithGo(ms, go)).rejects.toThrow(message);
    },
  );
});
