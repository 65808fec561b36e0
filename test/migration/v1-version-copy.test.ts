import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { parseChangesetLine } from '../../src/cli/apply.js';
import type { LevelDatabase } from '../../src/db/kv-db.js';
import { openDb } from '../../src/db/open-db.js';
import { toHex, utf8 } from '../../src/encoding/bytes.js';
import type { Changeset, VersionedChangeset } from '../../src/encoding/changeset.js';
import { MigrationManager } from '../../src/migration/migration-manager.js';
import type { V1Writes } from '../../src/migration/v1-version-copy.js';
import { SnapshotsManager } from '../../src/snapshots/snapshots-manager.js';
import { MultiStoreV1 } from '../../src/v1/multi-store-v1.js';
import { StateCommitment } from '../../src/v2/commitment/state-commitment.js';
import { StateStorage } from '../../src/v2/storage/state-storage.js';
import { copyFixture, FIXTURES } from '../helpers/fixtures.js';
import { readGoReport } from '../helpers/go-reference.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { Workload } from '../helpers/v1-builder.js';

const tempDir = useTempDirs();

/** Every key and value of v2's trees (`s/k:…`), hex, in order: two v2s compare node for node. */
async function treeRows(db: LevelDatabase): Promise<string[]> {
  const rows: string[] = [];
  for await (const [k, v] of db.iterator({
    gte: utf8('s/k:'),
    lt: utf8('s/k;'),
    keyEncoding: 'view',
    valueEncoding: 'view',
  }))
    rows.push(`${toHex(k)}=${toHex(v)}`);
  return rows;
}

interface SyncRun {
  manager: MigrationManager;
  sc: StateCommitment;
  ss: StateStorage;
  v2: LevelDatabase;
  /** Settles when the manager stops: after `last` is migrated, or with the error that failed it. */
  run: Promise<void>;
}

/** Migrates v1 at `height` into a fresh v2 and syncs `blocks` (v1 already committed them). */
async function syncInto(
  ms: MultiStoreV1,
  height: number,
  blocks: VersionedChangeset[],
  copyFromV1: boolean,
  handOver?: Map<number, V1Writes>,
  spill?: { dir: string; handoffBytes: number },
): Promise<SyncRun> {
  const v2 = await openDb(join(tempDir('v2'), 'v2'));
  const sc = await StateCommitment.open(v2);
  const ss = await StateStorage.open(v2, { prefix: utf8('ss/') });
  const manager = await MigrationManager.open({
    db: v2,
    snapshots: new SnapshotsManager(ms),
    stateStorage: ss,
    stateCommitment: sc,
    copyFromV1,
    handoffSpillDir: spill?.dir,
    handoffBytes: spill?.handoffBytes,
  });
  const changes = new Subject<VersionedChangeset>();
  const done = new Subject<void>();
  const last = blocks.at(-1)?.version ?? height;
  const run = manager.start(height, changes, done);
  for (const b of blocks) {
    const writes = handOver?.get(b.version);
    if (writes) manager.confirm(b.version, writes);
    changes.next(b);
  }
  const finished = new Promise<void>((resolve) => {
    if (manager.migratedVersion === last) resolve();
    manager.onMigrated((v) => v === last && resolve());
  });
  const stopped = Promise.race([finished.then(() => done.next()), run]).then(() => run);
  return { manager, sc, ss, v2, run: stopped };
}

function goChangesets(name: string, from: number): VersionedChangeset[] {
  const text = readFileSync(join(FIXTURES, 'go', name, 'changesets.jsonl'), 'utf8');
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l, i) => parseChangesetLine(l, i + 1))
    .filter((l) => l.version > from)
    .map((l) => ({ version: l.version, changeset: l.changeset }));
}

/** A v1 of our own in the node-key layout (as v0.50 writes it), with `blocks` more committed after `height`. */
async function nodeKeyV1(
  height: number,
  blocks: number,
): Promise<{ ms: MultiStoreV1; blocks: VersionedChangeset[]; writes: Map<number, V1Writes> }> {
  const db = await openDb(join(tempDir('v1'), 'application.db'));
  const ms = await MultiStoreV1.open(db, { stores: ['acc', 'bank', 'staking'], layout: 'node-key' });
  const w = new Workload(['acc', 'bank', 'staking'], 3000, 7);
  await ms.commit(w.initial(2500));
  for (let v = 2; v <= height; v++) await ms.commit(w.block(300));
  const out: VersionedChangeset[] = [];
  const writes = new Map<number, V1Writes>();
  for (let v = height + 1; v <= height + blocks; v++) {
    const changeset = w.block(300);
    // What RootStore hands the sync: every put of v1's batch for the version, as written.
    const seen: V1Writes = { keys: [], values: [] };
    await ms.commit(changeset, v, undefined, (k, val) => {
      seen.keys.push(k);
      seen.values.push(val);
    });
    writes.set(v, seen);
    out.push({ version: v, changeset });
  }
  return { ms, blocks: out, writes };
}

/** Flips a byte of the stored hash of bank's root at version 8 (an inner node): its copy cannot hash as v1's commit info says. */
function flipBankRoot(w8: V1Writes): void {
  const i = w8.keys.findIndex((k) =>
    toHex(k).endsWith(`${toHex(utf8('s/k:bank/'))}73000000000000000800000001`),
  );
  expect(i).toBeGreaterThanOrEqual(0);
  const bad = w8.values[i].slice();
  bad[bad.length - 30] ^= 0xff;
  w8.values[i] = bad;
}

/** A set whose key the changeset touches only once in its store. */
function loneSet(cs: Changeset): Changeset['changes'][number]['pairs'][number] {
  for (const c of cs.changes) {
    const seen = new Map<string, number>();
    for (const p of c.pairs) seen.set(toHex(p.key), (seen.get(toHex(p.key)) ?? 0) + 1);
    const p = c.pairs.find((x) => !x.remove && seen.get(toHex(x.key)) === 1);
    if (p) return p;
  }
  throw new Error('no lone set in the changeset');
}

describe('sync copies node-key versions from v1', () => {
  it('Go-written v0.50 node: each version copied, hashing as Go committed it, node for node what a replay writes', async () => {
    const go = readGoReport(join(FIXTURES, 'go', 'v050', 'expected.json'));
    const fx = copyFixture('go/v050/application.db');
    try {
      const ms = await MultiStoreV1.open(await openDb(fx.path), { readOnly: true });
      const blocks = goChangesets('v050', 30);
      expect(blocks.length).toBe(go.latestVersion - 30);
      const copied = await syncInto(ms, 30, blocks, true);
      await copied.run;
      expect(copied.manager.syncCounts).toEqual({ copied: blocks.length, replayed: 0, handedOver: 0 });
      for (const h of go.heights.filter((x) => x.height >= 30)) {
        expect(toHex((await copied.sc.getCommitInfo(h.height)).appHash), `height ${h.height}`).toBe(
          h.appHash,
        );
      }
      const replayed = await syncInto(ms, 30, blocks, false);
      await replayed.run;
      expect(replayed.manager.syncCounts).toEqual({ copied: 0, replayed: blocks.length, handedOver: 0 });
      // Go's nodes, copied, are the very bytes under the very keys that our replay writes.
      const a = await treeRows(copied.v2);
      expect(a.length).toBeGreaterThan(1000);
      expect(await treeRows(replayed.v2)).toEqual(a);
      // And the copy serves reads and proofs at a copied height.
      const store = copied.sc.storeNames()[0];
      const key = blocks
        .at(-1)!
        .changeset.changes.find((c) => c.store === store)
        ?.pairs.find((p) => !p.remove)?.key;
      if (key) expect((await copied.sc.query(store, key, go.latestVersion, true)).proof).toBeDefined();
      for (const r of [copied, replayed]) await r.v2.close();
      await ms.kv.db.close();
    } finally {
      fx.cleanup();
    }
  });

  it.each([
    ['a legacy (v0.47) v1', 'v047'],
    ['a v1 upgraded from legacy, while legacy nodes remain', 'upgraded'],
  ])('%s is replayed, Go-written: nothing to copy', async (_, era) => {
    const fx = copyFixture(`go/${era}/application.db`);
    try {
      const ms = await MultiStoreV1.open(await openDb(fx.path), { readOnly: true });
      const blocks = goChangesets(era, 40);
      const r = await syncInto(ms, 40, blocks, true);
      await r.run;
      expect(r.manager.syncCounts).toEqual({ copied: 0, replayed: blocks.length, handedOver: 0 });
      await r.v2.close();
      await ms.kv.db.close();
    } finally {
      fx.cleanup();
    }
  });

  // Bad input: a buffered changeset that is not what v1 committed fails as its replay would,
  // and StateCommitment keeps the version before it.
  const broken: Array<[string, (cs: Changeset) => void]> = [
    [
      'a set with another value',
      (cs) => {
        loneSet(cs).value = utf8('not what v1 wrote');
      },
    ],
    ['a set v1 never wrote', (cs) => cs.changes[0].pairs.push({ key: utf8('zz/never'), value: utf8('x') })],
    [
      'a set missing',
      (cs) => {
        const p = loneSet(cs);
        for (const c of cs.changes) c.pairs = c.pairs.filter((x) => x !== p);
      },
    ],
    [
      'a removal of a key v1 kept',
      (cs) => {
        const p = loneSet(cs);
        p.value = undefined;
        p.remove = true;
      },
    ],
  ];
  it.each(broken)('%s is ERR_HASH_MISMATCH, and nothing of that version is committed', async (_, edit) => {
    const { ms, blocks } = await nodeKeyV1(6, 4);
    edit(blocks[2].changeset);
    const r = await syncInto(ms, 6, blocks, true);
    await expect(r.run).rejects.toMatchObject({ code: 'ERR_HASH_MISMATCH' });
    expect(r.manager.syncCounts).toEqual({ copied: 2, replayed: 0, handedOver: 0 });
    expect(r.sc.latestVersion).toBe(8);
    expect(r.manager.migratedVersion).toBe(8);
    // StateStorage's rows of a version land in the write of StateCommitment's commit record.
    expect(r.ss.latestVersion).toBe(8);
    expect(await r.ss.get('bank', utf8('zz/never'), 8)).toBeUndefined();
    await r.v2.close();
    await ms.kv.db.close();
  });

  it('a copied node that v1 holds corrupt is ERR_HASH_MISMATCH, and v1 is untouched', async () => {
    const { ms, blocks } = await nodeKeyV1(6, 3);
    // Flip a byte in the stored hash of bank's root at version 8: its copy cannot hash as v1's commit info.
    const kv = ms.tree('bank').kv;
    const rootKey = new Uint8Array([0x73, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 1]);
    const raw = (await kv.get(rootKey))!;
    expect(raw[0]).not.toBe(0); // an inner node, whose bytes hold its hash
    const bad = raw.slice();
    bad[bad.length - 30] ^= 0xff;
    await kv.put(rootKey, bad);
    const r = await syncInto(ms, 6, blocks, true);
    await expect(r.run).rejects.toMatchObject({ code: 'ERR_HASH_MISMATCH' });
    expect(r.sc.latestVersion).toBe(7);
    expect(await kv.get(rootKey)).toEqual(bad);
    await r.v2.close();
    await ms.kv.db.close();
  });

  it("v1's writes handed over at confirm are copied without reading v1 back, node for node what the read copies", async () => {
    const { ms, blocks, writes } = await nodeKeyV1(6, 4);
    const handed = await syncInto(ms, 6, blocks, true, writes);
    await handed.run;
    expect(handed.manager.syncCounts).toEqual({ copied: 4, replayed: 0, handedOver: 4 });
    const read = await syncInto(ms, 6, blocks, true);
    await read.run;
    expect(read.manager.syncCounts).toEqual({ copied: 4, replayed: 0, handedOver: 0 });
    expect(await treeRows(handed.v2)).toEqual(await treeRows(read.v2));
    expect(toHex((await handed.sc.getCommitInfo(10)).appHash)).toBe(
      toHex((await ms.getCommitInfo(10)).appHash),
    );
    for (const r of [handed, read]) await r.v2.close();
    await ms.kv.db.close();
  });

  it("v1's writes over the memory budget are spilled to file and copied from there, node for node what the read copies", async () => {
    const { ms, blocks, writes } = await nodeKeyV1(6, 4);
    const dir = join(tempDir('spill'), 'v2.handoff');
    // 0 bytes in memory: every version goes to the spill.
    const spilled = await syncInto(ms, 6, blocks, true, writes, { dir, handoffBytes: 0 });
    await spilled.run;
    expect(spilled.manager.syncCounts).toEqual({ copied: 4, replayed: 0, handedOver: 4 });
    const read = await syncInto(ms, 6, blocks, true);
    await read.run;
    expect(await treeRows(spilled.v2)).toEqual(await treeRows(read.v2));
    await spilled.manager.close();
    expect(existsSync(dir)).toBe(false); // nothing of it outlives the migration
    for (const r of [spilled, read]) await r.v2.close();
    await ms.kv.db.close();
  });

  it('a spill directory that cannot be made (a file in its way) leaves the sync reading v1, which still copies', async () => {
    const { ms, blocks, writes } = await nodeKeyV1(6, 3);
    const file = join(tempDir('spill'), 'not-a-dir');
    writeFileSync(file, 'x');
    const r = await syncInto(ms, 6, blocks, true, writes, { dir: join(file, 'v2.handoff'), handoffBytes: 0 });
    await r.run;
    expect(r.manager.syncCounts).toEqual({ copied: 3, replayed: 0, handedOver: 0 });
    expect(readFileSync(file, 'utf8')).toBe('x');
    await r.v2.close();
    await ms.kv.db.close();
  });

  it('spilled writes that are not what v1 holds (a flipped byte) are ERR_HASH_MISMATCH, nothing of it committed', async () => {
    const { ms, blocks, writes } = await nodeKeyV1(6, 3);
    flipBankRoot(writes.get(8)!);
    const dir = join(tempDir('spill'), 'v2.handoff');
    const r = await syncInto(ms, 6, blocks, true, writes, { dir, handoffBytes: 0 });
    await expect(r.run).rejects.toMatchObject({ code: 'ERR_HASH_MISMATCH' });
    expect(r.sc.latestVersion).toBe(7);
    expect(r.ss.latestVersion).toBe(7);
    await r.v2.close();
    await ms.kv.db.close();
  });

  it('handed-over writes that are not what v1 holds (a flipped byte) are ERR_HASH_MISMATCH, nothing of it committed', async () => {
    const { ms, blocks, writes } = await nodeKeyV1(6, 3);
    flipBankRoot(writes.get(8)!);
    const r = await syncInto(ms, 6, blocks, true, writes);
    await expect(r.run).rejects.toMatchObject({ code: 'ERR_HASH_MISMATCH' });
    expect(r.sc.latestVersion).toBe(7);
    await r.v2.close();
    await ms.kv.db.close();
  });

  it('commitCopied refuses trees not restored with v1 node keys (ERR_INTERNAL), committing nothing', async () => {
    const v2 = await openDb(join(tempDir('v2'), 'v2'));
    const sc = await StateCommitment.open(v2, { stores: ['acc'] });
    expect(sc.nodeKeysOfV1).toBe(false);
    await expect(
      sc.commitCopied(1, [{ name: 'acc', entries: [], hash: new Uint8Array(32) }]),
    ).rejects.toMatchObject({
      code: 'ERR_INTERNAL',
    });
    expect(sc.latestVersion).toBe(0);
    await v2.close();
  });

  it('a version whose root v1 no longer holds is replayed, and the versions after it copied again', async () => {
    const { ms, blocks } = await nodeKeyV1(6, 4);
    // Pruning deletes a version's root record with its nodes; here only the record goes, so
    // version 9 still finds the nodes it shares with 8.
    await ms.tree('acc').kv.del(new Uint8Array([0x73, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 1]));
    const r = await syncInto(ms, 6, blocks, true);
    await r.run;
    expect(r.manager.syncCounts).toEqual({ copied: 3, replayed: 1, handedOver: 0 });
    expect(toHex((await r.sc.getCommitInfo(10)).appHash)).toBe(toHex((await ms.getCommitInfo(10)).appHash));
    await r.v2.close();
    await ms.kv.db.close();
  });
});
