import { join } from 'node:path';
import { iavlSpec, tendermintSpec, verifyMembership } from '@confio/ics23';
import { describe, expect, it } from 'vitest';
import { openDb } from '../../../src/db/open-db.js';
import { toHex, utf8 } from '../../../src/encoding/bytes.js';
import type { Changeset } from '../../../src/encoding/changeset.js';
import type { SnapshotItem } from '../../../src/snapshots/snapshot-item.js';
import { SnapshotsManager } from '../../../src/snapshots/snapshots-manager.js';
import { MigrationStream } from '../../../src/stream/migration-stream.js';
import { MultiStoreV1 } from '../../../src/v1/multi-store-v1.js';
import { type RestoredLeaf, StateCommitment } from '../../../src/v2/commitment/state-commitment.js';
import { dumpDb } from '../../helpers/db-dump.js';
import { decodeForVerifier } from '../../helpers/ics23.js';
import { Rng } from '../../helpers/random.js';
import { useTempDirs } from '../../helpers/temp-dir.js';

const tempDir = useTempDirs();

async function v1WithData(stores: string[], versions: number) {
  const db = await openDb(join(tempDir('sc'), 'v1'));
  const ms = await MultiStoreV1.open(db, { stores });
  const rng = new Rng(11);
  const changesets: Changeset[] = [];
  for (let v = 1; v <= versions; v++) {
    const cs: Changeset = {
      changes: stores.map((store, i) => ({
        store,
        pairs: Array.from({ length: i === stores.length - 1 ? 0 : 50 + rng.int(50) }, () =>
          rng.next() < 0.15
            ? { key: utf8(`k${rng.int(400)}`), remove: true }
            : { key: utf8(`k${rng.int(400)}`), value: rng.bytes(1 + rng.int(40)) },
        ),
      })),
    };
    changesets.push(cs);
    await ms.commit(cs);
  }
  return { db, ms, changesets };
}

describe('StateCommitment', () => {
  it('restores a v1 export at a height with the same app hash, then commits on with v1', async () => {
    const { db, ms, changesets } = await v1WithData(['acc', 'bank', 'gov', 'ibc', 'zeta'], 8);
    const scDb = await openDb(join(tempDir('sc'), 'sc'));
    try {
      const snapshots = new SnapshotsManager(ms);
      const stream = new MigrationStream<SnapshotItem>(64);
      const leaves = new MigrationStream<RestoredLeaf>(64);
      const sc = await StateCommitment.open(scDb);
      const received: RestoredLeaf[] = [];
      const [stats, ci] = await Promise.all([
        snapshots.createMigration(6, stream),
        sc.restore(6, stream, { leaves }),
        (async () => {
          for await (const l of leaves) received.push(l);
        })(),
      ]);
      const v1ci = await ms.getCommitInfo(6);
      expect(toHex(ci.appHash)).toBe(toHex(v1ci.appHash));
      expect(ci.stores.map((s) => [s.name, toHex(s.hash)])).toEqual(
        v1ci.stores.map((s) => [s.name, toHex(s.hash)]),
      );
      expect(received.length).toBe(stats.leaves);
      expect(stats.stores.find((s) => s.name === 'zeta')).toEqual({ name: 'zeta', leaves: 0, nodes: 0 });

      // Replaying v1's later changesets keeps the app hashes equal.
      for (const v of [7, 8]) {
        const out = await sc.commit(changesets[v - 1], v);
        expect(toHex(out.appHash)).toBe(toHex((await ms.getCommitInfo(v)).appHash));
      }

      // Proofs from v2 verify against the same app hash.
      const q = await sc.query('bank', utf8('k10'), 8, true);
      const storeRoot = (await sc.getCommitInfo(8)).stores.find((s) => s.name === 'bank')!.hash;
      if (q.value)
        expect(
          verifyMembership(
            decodeForVerifier(q.proof!.ops[0].data),
            iavlSpec,
            storeRoot,
            utf8('k10'),
            q.value,
          ),
        ).toBe(true);
      expect(
        verifyMembership(
          decodeForVerifier(q.proof!.ops[1].data),
          tendermintSpec,
          (await ms.getCommitInfo(8)).appHash,
          utf8('bank'),
          storeRoot,
        ),
      ).toBe(true);

      // Reopened, it is at version 8 with node-key trees.
      const again = await StateCommitment.open(scDb);
      expect(again.latestVersion).toBe(8);
      expect(again.tree('bank').layout).toBe('node-key');
    } finally {
      await db.close();
      await scDb.close();
    }
  });

  it('refuses a node before any store item, unsorted stores and a second restore', async () => {
    const scDb = await openDb(join(tempDir('sc'), 'sc'));
    try {
      const sc = await StateCommitment.open(scDb);
      const node: SnapshotItem = { kind: 'iavl', key: utf8('a'), value: utf8('1'), version: 1, height: 0 };
      await expect(sc.restore(1, [node])).rejects.toMatchObject({ code: 'ERR_SNAPSHOT_ORDER' });
      await expect(
        sc.restore(1, [{ kind: 'store', name: 'b' }, node, { kind: 'store', name: 'a' }]),
      ).rejects.toMatchObject({ code: 'ERR_SNAPSHOT_ORDER' });
      const before = await dumpDb(scDb);
      // A failed restore commits nothing: no commit info and no latest record.
      const committed = before.filter((e) =>
        /^c\/(latest|[0-9])/.test(Buffer.from(e.split('=')[0], 'hex').toString()),
      );
      expect(committed).toEqual([]);
      await sc.restore(1, [{ kind: 'store', name: 'a' }, node]);
      expect(sc.latestVersion).toBe(1);
      await expect(sc.restore(1, [{ kind: 'store', name: 'a' }, node])).rejects.toMatchObject({
        code: 'ERR_VERSION_EXISTS',
      });
      await expect(sc.commitVersion(3)).rejects.toMatchObject({ code: 'ERR_CHANGESET_GAP' });
      await expect(sc.commitVersion(1)).rejects.toMatchObject({ code: 'ERR_VERSION_EXISTS' });
    } finally {
      await scDb.close();
    }
  });

  it('SnapshotsManager refuses a second migration while one runs, and other snapshot work', async () => {
    const { db, ms } = await v1WithData(['a', 'b'], 2);
    try {
      const snapshots = new SnapshotsManager(ms);
      const stream = new MigrationStream<SnapshotItem>(1);
      const running = snapshots.createMigration(2, stream);
      await expect(snapshots.createMigration(2, new MigrationStream<SnapshotItem>())).rejects.toMatchObject({
        code: 'ERR_SNAPSHOT_IN_PROGRESS',
      });
      await expect(snapshots.exportItems(2).next()).rejects.toMatchObject({
        code: 'ERR_SNAPSHOT_IN_PROGRESS',
      });
      stream.cancel();
      await expect(running).rejects.toMatchObject({ code: 'ERR_STREAM_CLOSED' });
      // Once it ended, a missing height is a typed error that reaches the reader too.
      const s2 = new MigrationStream<SnapshotItem>();
      await expect(snapshots.createMigration(9, s2)).rejects.toMatchObject({ code: 'ERR_VERSION_NOT_FOUND' });
      await expect(s2.readMsg()).rejects.toMatchObject({ code: 'ERR_VERSION_NOT_FOUND' });
    } finally {
      await db.close();
    }
  });
});

describe('StateCommitment restore after a crash', () => {
  it('resumes from its checkpoint and ends with the same hashes as an uninterrupted restore', async () => {
    const { db, ms } = await v1WithDataForResume();
    const scDb = await openDb(join(tempDir('sc'), 'sc'));
    try {
      const items = async () => {
        const out: SnapshotItem[] = [];
        for await (const it of new SnapshotsManager(ms).exportItems(5)) out.push(it);
        return out;
      };
      const all = await items();
      // First attempt dies after 60% of the stream (a throwing iterable, like a killed writer).
      const cut = Math.floor(all.length * 0.6);
      async function* dying() {
        for (let i = 0; i < cut; i++) yield all[i];
        throw new Error('process killed');
      }
      const sc1 = await StateCommitment.open(scDb);
      // Small batches so checkpoints happen often.
      await expect(sc1.restore(5, dying(), { batchBytes: 64 * 1024 })).rejects.toThrow('process killed');
      // The checkpoint sits inside a store, not only at a store boundary.
      const checkpoints = (await dumpDb(scDb)).filter((e) =>
        Buffer.from(e.split('=')[0], 'hex').toString().startsWith('c/restore/'),
      );
      expect(checkpoints.length).toBe(1);
      const sc2 = await StateCommitment.open(scDb);
      const leaves = new MigrationStream<RestoredLeaf>(1 << 20);
      const res = await sc2.restore(5, all, { leaves });
      expect(res.resumed).toBe(true);
      expect(toHex(res.appHash)).toBe(toHex((await ms.getCommitInfo(5)).appHash));
      // Every leaf still reached StateStorage's side of the restore.
      let n = 0;
      for await (const _ of leaves) n++;
      expect(n).toBe(all.filter((i) => i.kind === 'iavl' && i.height === 0).length);
      // Reads are right after reopening.
      const sc3 = await StateCommitment.open(scDb);
      for (const store of ms.storeNames()) {
        const a = [...(await ms.immutable(store, 5)).iterate()];
        const b = [...(await sc3.immutable(store, 5)).iterate()];
        expect(b).toEqual(a);
      }
    } finally {
      await db.close();
      await scDb.close();
    }
  });

  it('keeps v1 node keys in a fresh restore, and new keys in one an earlier release began', async () => {
    const { db, ms } = await v1WithDataForResume('node-key');
    const all: SnapshotItem[] = [];
    for await (const it of new SnapshotsManager(ms).exportItems(5)) all.push(it);
    // exportItems is the state-sync export: no node keys; the migration's export carries them.
    const withRefs: SnapshotItem[] = [];
    const stream = new MigrationStream<SnapshotItem>(1 << 20);
    await new SnapshotsManager(ms).createMigration(5, stream);
    for await (const it of stream) withRefs.push(it);
    // Store c: the interrupted run below dies before it (at 60% of a, b, c).
    const refsOf = async (sc: StateCommitment) =>
      [...(await sc.immutable('c', 5)).export({ verify: false })].map((n) => toHex(n.ref!));
    const v1Refs = [...(await ms.immutable('c', 5)).export({ verify: false })].map((n) => toHex(n.ref!));
    const fresh = await openDb(join(tempDir('sc'), 'fresh'));
    const scA = await StateCommitment.open(fresh);
    await scA.restore(5, withRefs);
    expect(scA.nodeKeysOfV1).toBe(true);
    expect((await StateCommitment.open(fresh)).nodeKeysOfV1).toBe(true);
    expect(await refsOf(scA)).toEqual(v1Refs);

    const old = await openDb(join(tempDir('sc'), 'old'));
    async function* dying() {
      for (let i = 0; i < Math.floor(withRefs.length * 0.6); i++) yield withRefs[i];
      throw new Error('process killed');
    }
    await expect(
      (await StateCommitment.open(old)).restore(5, dying(), { batchBytes: 64 * 1024 }),
    ).rejects.toThrow('process killed');
    // The checkpoint as a release before kept node keys wrote it.
    const view = { keyEncoding: 'view', valueEncoding: 'view' } as const;
    const { keepNodeKeys, ...state } = JSON.parse(
      Buffer.from((await old.get(utf8('c/restore'), view))!).toString(),
    );
    expect(keepNodeKeys).toBe(true);
    await old.put(utf8('c/restore'), utf8(JSON.stringify(state)), view);
    const scB = await StateCommitment.open(old);
    const res = await scB.restore(5, withRefs);
    expect(res.resumed).toBe(true);
    expect(toHex(res.appHash)).toBe(toHex((await ms.getCommitInfo(5)).appHash));
    expect(scB.nodeKeysOfV1).toBe(false);
    expect(await refsOf(scB)).not.toEqual(v1Refs);
    for (const d of [db, fresh, old]) await d.close();
  });
});

async function v1WithDataForResume(layout: 'legacy' | 'node-key' = 'legacy') {
  const db = await openDb(join(tempDir('sc'), 'v1r'));
  const ms = await MultiStoreV1.open(db, { stores: ['a', 'b', 'c'], layout });
  const rng = new Rng(3);
  for (let v = 1; v <= 5; v++) {
    await ms.commit({
      changes: ['a', 'b', 'c'].map((store) => ({
        store,
        pairs: Array.from({ length: 1200 }, () => ({ key: rng.bytes(8), value: rng.bytes(200) })),
      })),
    });
  }
  return { db, ms };
}
