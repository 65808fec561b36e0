import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { firstValueFrom } from 'rxjs';
import { filter } from 'rxjs/operators';
import { describe, expect, it } from 'vitest';
import { parseChangesetLine } from '../../src/cli/apply.js';
import { toHex } from '../../src/encoding/bytes.js';
import type { Changeset } from '../../src/encoding/changeset.js';
import { openNodeHome } from '../../src/v2/root/node-home.js';
import { RootStore } from '../../src/v2/root/root-store.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { type GoReport, readGoReport } from '../helpers/go-reference.js';
import { goref } from '../helpers/goref.js';
import { useTempDirs } from '../helpers/temp-dir.js';

// A node that embeds RootStore on a database Go iavl v1 wrote commits 30 blocks to v1 while it
// migrates. Its operator then abandons the migration: Go must open that v1, and Go's own
// writer, continuing it, must agree with what our v2 computes for the same next blocks.
const tempDir = useTempDirs();

function changesets(file: string): Array<{ version: number; changeset: Changeset }> {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((text, i) => parseChangesetLine(text, i + 1));
}

describe.each(['v050', 'upgraded'])('Go continues a %s v1 that our RootStore committed to', (name) => {
  it('Go reads our 30 blocks with the same app hashes, and its next 5 blocks equal our v2', async () => {
    const fixture = readGoReport(join(FIXTURES, 'go', name, 'expected.json'));
    const stores = fixture.heights.at(-1)!.stores.map((s) => s.name);
    const dir = tempDir('go-continue');
    const home = join(dir, 'home');
    const v1 = join(home, 'application.db');
    cpSync(join(FIXTURES, 'go', name, 'application.db'), v1, { recursive: true });
    // Versions 51..85 of a workload over the fixture's stores; Go skips the 80 it will find.
    const file = join(dir, 'blocks.jsonl');
    await goref('v050', [
      'workload',
      '--seed',
      '8585',
      '--stores',
      stores.join(','),
      '--versions',
      '85',
      '--changes',
      '40',
      '--out',
      file,
    ]);
    const blocks = changesets(file);

    // Our node: 30 blocks on v1 while the migration runs, the switch held back.
    let dbs = await openNodeHome(home);
    let store = await RootStore.open(dbs.v1, dbs.v2, { postponeSwitch: true });
    const ours: string[] = [];
    for (const b of blocks.slice(50, 80)) ours.push(toHex((await store.commit(b.changeset)).appHash));
    expect(store.switchedAtVersion).toBeUndefined();
    await store.close();
    await dbs.close();

    // Go opens that v1: every height, its trees' roots and contents.
    const read = JSON.parse(await goref('v050', ['read', '--db', v1])) as GoReport;
    expect(read.latestVersion).toBe(80);
    expect(read.queryable.at(-1)).toBe(80);
    expect(read.heights.map((h) => h.appHash)).toEqual([...fixture.heights.map((h) => h.appHash), ...ours]);

    // Go's writer continues a copy for 5 blocks...
    const goCopy = join(dir, 'go', 'application.db');
    cpSync(v1, goCopy, { recursive: true });
    await goref('v050', ['apply', '--db', goCopy, '--changesets', file, '--expected', join(dir, 'go.json')]);
    const goNext = readGoReport(join(dir, 'go.json'))
      .heights.slice(80)
      .map((h) => h.appHash);
    expect(goNext).toHaveLength(5);

    // ...and our node, reopened, catches up, switches, and commits the same 5 on v2.
    dbs = await openNodeHome(home);
    store = await RootStore.open(dbs.v1, dbs.v2);
    if (store.switchedAtVersion === undefined) {
      await firstValueFrom(store.events$.pipe(filter((e) => e.type === 'switched' || e.type === 'failed')));
    }
    expect(store.switchedAtVersion).toBe(80);
    const v2Next: string[] = [];
    for (const b of blocks.slice(80, 85)) v2Next.push(toHex((await store.commit(b.changeset)).appHash));
    expect(store.status().phase).toBe('switched');
    await store.close();
    await dbs.close();
    expect(v2Next).toEqual(goNext);
  });
});
