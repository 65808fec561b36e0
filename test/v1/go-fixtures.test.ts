import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { summarizeV1 } from '../../src/cli/v1-summary.js';
import { openDb } from '../../src/db/open-db.js';
import { MultiStoreV1 } from '../../src/v1/multi-store-v1.js';
import { copyFixture, FIXTURES } from '../helpers/fixtures.js';
import { compareWithGo, type GoReport, readGoReport } from '../helpers/go-reference.js';

// Databases the real Go stores wrote (interop/go, `npm run fixtures:go`), each with Go's own
// reading of itself in expected.json: every era's CommitInfo, both tree layouts, pruned
// heights, and a v0.47 database that v0.50 continued through a store upgrade.
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

const FIXTURE_FACTS: Array<[name: string, module: string, queryable: number, layouts: string[]]> = [
  ['v045', 'github.com/cosmos/cosmos-sdk v0.45.16', 50, ['legacy', 'none']],
  ['v045-pruned', 'github.com/cosmos/cosmos-sdk v0.45.16', 10, ['legacy', 'none']],
  ['v047', 'github.com/cosmos/cosmos-sdk v0.47.17', 50, ['legacy']],
  ['v050', 'cosmossdk.io/store v1.1.2', 50, ['node-key']],
  ['v050-pruned', 'cosmossdk.io/store v1.1.2', 6, ['node-key']],
  ['upgraded', 'cosmossdk.io/store v1.1.2', 50, ['node-key']],
];

describe.each(FIXTURE_FACTS)('Go-written fixture %s', (name, module, queryable, layouts) => {
  it('matches Go at every height with trees: app hash, each store version and root, and every key', async () => {
    const { ms, go } = await openFixture(name);
    const [path, version] = module.split(' ');
    expect(go.modules[path]).toBe(version);
    expect(go.queryable).toHaveLength(queryable);
    expect(ms.latestVersion).toBe(go.latestVersion);
    expect(await ms.versions()).toEqual(go.queryable);
    await compareWithGo(ms, go);
    // The content checks cover real data at every height.
    expect(Object.keys(go.contents ?? {})).toHaveLength(queryable);
    expect(Object.values(go.digests).reduce((n, d) => n + d.keys, 0)).toBeGreaterThan(300);
    const summary = await summarizeV1(ms);
    expect(summary.appHash).toBe(go.heights.at(-1)!.appHash);
    expect([...new Set(summary.stores.map((s) => s.treeLayout))].sort()).toEqual(layouts);
  });

  it('refuses a height whose trees were pruned with ERR_VERSION_PRUNED naming the nearest', async () => {
    const { ms, go } = await openFixture(name);
    const pruned = go.heights.filter((h) => !h.queryable).map((h) => h.height);
    expect(pruned).toHaveLength(go.heights.length - queryable);
    for (const h of pruned) {
      const below = go.queryable.filter((q) => q < h).at(-1);
      const above = go.queryable.find((q) => q > h);
      const nearest = [below, above].filter((x) => x !== undefined).join(' and ');
      await expect(summarizeV1(ms, h)).rejects.toMatchObject({
        code: 'ERR_VERSION_PRUNED',
        message: expect.stringContaining(`nearest that can be read: ${nearest}`),
      });
      const store = go.heights.find((x) => x.height === h)!.stores.find((s) => s.rootHash !== '')!.name;
      await expect(ms.query(store, new Uint8Array([1]), h)).rejects.toMatchObject({
        code: 'ERR_VERSION_PRUNED',
      });
    }
  });
});

describe('fixture expectations fail loudly', () => {
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
        go.contents!['12'].acc.keys += 1;
      },
      /^height 12 store acc: /,
    ],
    [
      'the last digest',
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
