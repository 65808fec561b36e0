import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseChangesetLine } from '../../src/cli/apply.js';
import { openDb } from '../../src/db/open-db.js';
import { toHex } from '../../src/encoding/bytes.js';
import { MultiStoreV1 } from '../../src/v1/multi-store-v1.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { type GoReport, readGoReport } from '../helpers/go-reference.js';
import { goref } from '../helpers/goref.js';
import { runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';

// Go reads what we write: the node-key trees of our v2 StateCommitment with Go iavl v1 alone,
// and a Go-written v1 after our code committed more blocks to it, with that era's rootmulti.
const tempDir = useTempDirs();

describe('Go iavl v1.2 opens the StateCommitment that store-migrate migrate writes', () => {
  it.each([101, 102, 103])('workload seed %i: the same roots and every key and value', async (seed) => {
    const dir = tempDir('go-sc');
    const file = join(dir, 'changesets.jsonl');
    const v1 = join(dir, 'node', 'application.db');
    const v2 = join(dir, 'node', 'v2');
    await goref('v050', [
      'workload',
      '--seed',
      String(seed),
      '--stores',
      'acc,bank,staking',
      '--versions',
      '50',
      '--changes',
      '60',
      '--out',
      file,
    ]);
    // The source is a v1 that Go v0.47 wrote, so nothing of ours is on either side but the migration.
    await goref('v047', ['apply', '--db', v1, '--changesets', file, '--expected', join(dir, 'v1.json')]);
    const source = readGoReport(join(dir, 'v1.json'));

    const migrated = runCli(['migrate', '--v1', v1, '--v2', v2, '--json', '--no-progress']);
    expect(migrated.stderr).toBe('');
    expect(migrated.code).toBe(0);
    const sc = JSON.parse(await goref('v050', ['read-sc', '--db', v2])) as GoReport;

    expect(sc.modules['github.com/cosmos/iavl']).toBe('v1.2.6');
    expect(sc.latestVersion).toBe(50);
    expect(sc.queryable).toEqual([50]);
    const want = source.heights.find((h) => h.height === 50)!;
    const got = sc.heights.find((h) => h.height === 50)!;
    expect(got.appHash).toBe(want.appHash);
    expect(got.stores.map((s) => [s.name, s.version, s.rootHash, s.tree])).toEqual(
      want.stores.map((s) => [s.name, s.version, s.rootHash, true]),
    );
    expect(sc.digests).toEqual(source.digests);
  });
});

describe('Go v0.47 reopens a v1 it wrote after our code committed 10 more blocks to it', () => {
  it('reports our app hash at every height, and our content', async () => {
    const dir = tempDir('go-v1');
    const v1 = join(dir, 'application.db');
    cpSync(join(FIXTURES, 'go', 'v047', 'application.db'), v1, { recursive: true });
    const file = join(dir, 'more.jsonl');
    await goref('v050', [
      'workload',
      '--seed',
      '4747',
      '--stores',
      'acc,bank,staking',
      '--versions',
      '60',
      '--changes',
      '40',
      '--out',
      file,
    ]);

    const ours: string[] = [];
    const db = await openDb(v1, { createIfMissing: false });
    try {
      const ms = await MultiStoreV1.open(db);
      expect(ms.latestVersion).toBe(50);
      const lines = readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l.length > 0);
      for (const [i, text] of lines.entries()) {
        if (i < 50) continue; // the fixture's own 50 heights
        const { version, changeset } = parseChangesetLine(text, i + 1);
        await ms.commit(changeset, version);
      }
      for (let h = 1; h <= 60; h++) ours.push(toHex((await ms.getCommitInfo(h)).appHash));
    } finally {
      await db.close();
    }

    const go = JSON.parse(await goref('v047', ['read', '--db', v1])) as GoReport;
    expect(go.latestVersion).toBe(60);
    expect(go.queryable).toHaveLength(60);
    expect(go.heights.map((h) => h.appHash)).toEqual(ours);
    // Go's own fixture report still holds for the heights it wrote.
    const fixture = readGoReport(join(FIXTURES, 'go', 'v047', 'expected.json'));
    expect(go.heights.slice(0, 50)).toEqual(fixture.heights);
  });
});
