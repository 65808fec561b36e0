import { join } from 'node:path';
import { iavlSpec, tendermintSpec, verifyMembership } from '@confio/ics23';
import { describe, expect, it } from 'vitest';
import { openDb } from '../../../src/db/open-db.js';
import { toHex, utf8 } from '../../../src/encoding/bytes.js';
import type { Changeset } from '../../../src/encoding/changeset.js';
import { MigrationStream } from '../../../src/migration/migration-stream.js';
import type { SnapshotItem } from '../../../src/snapshots/snapshot-item.js';
import { SnapshotsManager } from '../../../src/snapshots/snapshots-manager.js';
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
      expect(before.filter((e) => e.startsWith(Buffer.from('c/').toString('hex')))).toEqual([]);
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
