import { join } from 'node:path';
import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { LevelDatabase } from '../../src/db/kv-db.js';
import { KvDb } from '../../src/db/kv-db.js';
import { openDb } from '../../src/db/open-db.js';
import { toHex, utf8 } from '../../src/encoding/bytes.js';
import type { VersionedChangeset } from '../../src/encoding/changeset.js';
import { changesetKey } from '../../src/migration/changeset-buffer.js';
import { MigrationManager } from '../../src/migration/migration-manager.js';
import type { MigrationProgress } from '../../src/migration/progress.js';
import { verifyMigration } from '../../src/migration/verify.js';
import { SnapshotsManager } from '../../src/snapshots/snapshots-manager.js';
import type { MultiStoreV1 } from '../../src/v1/multi-store-v1.js';
import { StateCommitment } from '../../src/v2/commitment/state-commitment.js';
import { StateStorage } from '../../src/v2/storage/state-storage.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { buildV1 } from '../helpers/v1-builder.js';

const tempDir = useTempDirs();

async function setup(keysPerStore: number, versions = 5, stores = ['acc', 'bank']) {
  const dir = tempDir('mm');
  const v1Db = await openDb(join(dir, 'application.db'));
  const v2Db = await openDb(join(dir, 'v2'));
  const { ms, workload } = await buildV1(v1Db, { stores, keysPerStore, versions });
  const parts = await v2Parts(ms, v2Db);
  return { dir, v1Db, v2Db, ms, workload, ...parts };
}

async function v2Parts(
  ms: MultiStoreV1,
  v2Db: LevelDatabase,
  opts: { throttle?: number; history?: number } = {},
) {
  const sc = await StateCommitment.open(v2Db);
  const ss = await StateStorage.open(v2Db, { prefix: utf8('ss/') });
  const manager = await MigrationManager.open({
    db: v2Db,
    snapshots: new SnapshotsManager(ms),
    stateStorage: ss,
    stateCommitment: sc,
    ...opts,
  });
  return { sc, ss, manager };
}

describe('MigrationManager', () => {
  it('migrates, syncs buffered changesets woken by new ones, and verifies', async () => {
    const t = await setup(2000);
    try {
      const changes = new Subject<VersionedChangeset>();
      const done = new Subject<void>();
      const progress: MigrationProgress[] = [];
      t.manager.progress$.subscribe((p) => progress.push(p));
      const run = t.manager.start(5, changes, done);
      for (let v = 6; v <= 15; v++) {
        const cs = t.workload.block(100);
        await t.ms.commit(cs, v);
        changes.next({ version: v, changeset: cs });
      }
      await new Promise<void>((resolve) => {
        const off = t.manager.onMigrated((v) => {
          if (v === 15) {
            off();
            resolve();
          }
        });
        if (t.manager.migratedVersion === 15) resolve();
      });
      done.next();
      await run;
      expect(t.sc.latestVersion).toBe(15);
      expect(t.ss.latestVersion).toBe(15);
      for (const v of [5, 10, 15]) {
        const r = await verifyMigration(t.ms, { ss: t.ss, sc: t.sc }, v);
        expect(r.ok).toBe(true);
        expect(r.appHashV2).toBe(r.appHashV1);
      }
      // Progress went through the phases, at most 4 times a second.
      expect(progress.some((p) => p.phase === 'restoring')).toBe(true);
      expect(progress.at(-1)?.phase).toBe('syncing');
      expect(progress.at(-1)?.migratedVersion).toBe(15);
    } finally {
      await t.v1Db.close();
      await t.v2Db.close();
    }
  });

  it('verify finds a changed value, a missing key and an extra key', async () => {
    const t = await setup(500, 2);
    try {
      await t.manager.migrate(2);
      expect((await verifyMigration(t.ms, { ss: t.ss, sc: t.sc }, 2)).ok).toBe(true);
      // Tamper with StateStorage directly: one value changed at version 2.
      await t.ss.prune(2);
      const kv = new KvDb(t.v2Db);
      let changed = 0;
      for await (const [k, v] of kv.iterate({ gte: utf8('ss/d'), lt: utf8('ss/e') })) {
        if (changed === 0 && v[0] === 1) {
          const bad = v.slice();
          bad[bad.length - 1] ^= 0xff;
          await kv.put(k, bad);
          changed++;
        }
      }
      const r = await verifyMigration(t.ms, { ss: t.ss, sc: t.sc }, 2);
      expect(r.ok).toBe(false);
      expect(r.stores.reduce((a, s) => a + s.mismatched, 0)).toBe(1);
      expect(r.stores.reduce((a, s) => a + s.missing + s.extra, 0)).toBe(0);
    } finally {
      await t.v1Db.close();
      await t.v2Db.close();
    }
  });

  it('stops with a typed error on a gap or a conflicting duplicate', async () => {
    for (const bad of ['gap', 'conflict'] as const) {
      const t = await setup(300, 3);
      try {
        const changes = new Subject<VersionedChangeset>();
        const run = t.manager.start(3, changes, new Subject<void>());
        const cs = t.workload.block(10);
        changes.next({ version: 4, changeset: cs });
        if (bad === 'gap') changes.next({ version: 6, changeset: cs });
        else changes.next({ version: 4, changeset: t.workload.block(10) });
        await expect(run).rejects.toMatchObject({
          code: bad === 'gap' ? 'ERR_CHANGESET_GAP' : 'ERR_CHANGESET_CONFLICT',
        });
        expect(t.manager.phase).toBe('failed');
        // An identical duplicate is fine (a replay after restart).
        await t.manager.buffer.write({ version: 4, changeset: cs });
      } finally {
        await t.v1Db.close();
        await t.v2Db.close();
      }
    }
  });

  it('stops with a typed error on a corrupt buffered changeset', async () => {
    const t = await setup(300, 3);
    try {
      await new KvDb(t.v2Db).put(changesetKey(4), new Uint8Array([1, 5, 0xff]));
      // Opened after the corrupt entry landed, as a node restarting on such a v2 would be.
      const manager = await MigrationManager.open({
        db: t.v2Db,
        snapshots: new SnapshotsManager(t.ms),
        stateStorage: t.ss,
        stateCommitment: t.sc,
      });
      const run = manager.start(3, new Subject<VersionedChangeset>(), new Subject<void>());
      await expect(run).rejects.toMatchObject({ code: 'ERR_INVALID_CHANGESET' });
    } finally {
      await t.v1Db.close();
      await t.v2Db.close();
    }
  });

  it('pauses and resumes the restore', async () => {
    const t = await setup(3000, 2);
    try {
      t.manager.setThrottle(20_000);
      const run = t.manager.migrate(2);
      await new Promise((r) => setTimeout(r, 60));
      t.manager.pause();
      await new Promise((r) => setTimeout(r, 100));
      const at = t.manager.progress.leavesDone;
      await new Promise((r) => setTimeout(r, 300));
      expect(t.manager.progress.leavesDone).toBe(at);
      const total = t.ms.storeNames().reduce((a, s) => a + t.ms.tree(s).getImmutable(2).size, 0);
      expect(at).toBeLessThan(total);
      t.manager.resume();
      const res = await run;
      expect(res.leaves).toBe(total);
    } finally {
      await t.v1Db.close();
      await t.v2Db.close();
    }
  });

  it('throttles: 100k leaves at 10k leaves/s take 9 s or more', async () => {
    const t = await setup(50_000, 1);
    try {
      t.manager.setThrottle(10_000);
      const t0 = performance.now();
      const res = await t.manager.migrate(1);
      const seconds = (performance.now() - t0) / 1000;
      expect(res.leaves).toBe(100_000);
      expect(seconds).toBeGreaterThanOrEqual(9);
      expect(toHex(res.appHash!)).toBe(toHex((await t.ms.getCommitInfo(1)).appHash));
    } finally {
      await t.v1Db.close();
      await t.v2Db.close();
    }
  }, 60_000);

  it('refuses a v2 directory migrated from another v1', async () => {
    const a = await setup(200, 2);
    const dir = tempDir('other');
    const otherV1 = await openDb(join(dir, 'application.db'));
    try {
      await a.manager.migrate(2);
      const { ms: other } = await buildV1(otherV1, {
        stores: ['acc', 'bank'],
        keysPerStore: 200,
        versions: 2,
        seed: 99,
      });
      const parts = await v2Parts(other, a.v2Db);
      await expect(parts.manager.verifySource()).rejects.toMatchObject({ code: 'ERR_WRONG_CHAIN' });
    } finally {
      await a.v1Db.close();
      await a.v2Db.close();
      await otherV1.close();
    }
  });
});
