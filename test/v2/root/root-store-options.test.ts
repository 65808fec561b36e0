import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KvDb } from '../../../src/db/kv-db.js';
import { openDb } from '../../../src/db/open-db.js';
import { toHex } from '../../../src/encoding/bytes.js';
import { changesetKey } from '../../../src/migration/changeset-buffer.js';
import { MultiStoreV1 } from '../../../src/v1/multi-store-v1.js';
import { RootStore, type RootStoreEvent } from '../../../src/v2/root/root-store.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { buildV1, Workload } from '../../helpers/v1-builder.js';
import { waitFor } from '../../helpers/wait-for.js';

const tempDir = useTempDirs();
const STORES = ['acc', 'bank'];

async function home(keysPerStore = 1000, versions = 30) {
  const dir = tempDir('rs');
  const v1Path = join(dir, 'application.db');
  const refPath = join(dir, 'ref.db');
  const db = await openDb(v1Path);
  await buildV1(db, { stores: STORES, keysPerStore, versions });
  await db.close();
  cpSync(v1Path, refPath, { recursive: true });
  return { dir, v1Path, v2Path: join(dir, 'v2'), refPath };
}

describe('RootStore operator options and faults', () => {
  it('a postponed switch waits until released while migratedVersion keeps up', async () => {
    const h = await home();
    const [v1Db, v2Db] = [await openDb(h.v1Path), await openDb(h.v2Path)];
    try {
      const rs = await RootStore.open(v1Db, v2Db, { postponeSwitch: true });
      const w = new Workload(STORES, 1200, 3);
      await waitFor(() => rs.migratedVersion === 30, 20_000);
      for (let i = 0; i < 10; i++) {
        await rs.commit(w.block(50));
        await waitFor(() => rs.migratedVersion === rs.latestVersion, 20_000);
        expect(rs.isMigrating).toBe(true);
      }
      expect(rs.status().phase).toBe('waiting-switch');
      expect(rs.switchedAtVersion).toBeUndefined();
      rs.releaseSwitch();
      await rs.commit(w.block(50));
      expect(rs.switchedAtVersion).toBe(40);
      expect(rs.status().phase).toBe('switched');
      await rs.close();
    } finally {
      await v1Db.close();
      await v2Db.close();
    }
  });

  it.each([
    { thread: 'the node thread', worker: false, when: 'restore' },
    { thread: 'the node thread', worker: false, when: 'sync' },
    { thread: 'a worker', worker: true, when: 'restore' },
    { thread: 'a worker', worker: true, when: 'sync' },
  ])(
    'close() while paused in the $when on $thread returns, and the next start resumes',
    async ({ worker, when }) => {
      const h = await home(3000);
      let [v1Db, v2Db] = [await openDb(h.v1Path), await openDb(h.v2Path)];
      try {
        const throttle = when === 'restore' ? 2000 : undefined;
        let rs = await RootStore.open(v1Db, v2Db, { worker, postponeSwitch: true, throttle });
        const w = new Workload(STORES, 3200, 9);
        if (when === 'restore') await waitFor(() => (rs.status().progress.leavesDone ?? 0) > 0, 20_000);
        else await waitFor(() => rs.migratedVersion === 30, 20_000);
        rs.pause();
        await rs.commit(w.block(20));
        // Before the fix, the paused loop never saw the stop and close() waited for ever.
        await rs.close();
        await v1Db.close();
        await v2Db.close();
        [v1Db, v2Db] = [await openDb(h.v1Path), await openDb(h.v2Path)];
        rs = await RootStore.open(v1Db, v2Db, { worker });
        await waitFor(() => rs.migratedVersion === 31, 20_000);
        await rs.commit(w.block(20));
        expect(rs.switchedAtVersion).toBe(31);
        await rs.close();
      } finally {
        await v1Db.close();
        await v2Db.close();
      }
    },
  );

  for (const fault of ['gap', 'corrupt'] as const) {
    it(`a ${fault} in the buffered changesets fails the migration, the node keeps committing on v1, and a restart succeeds`, async () => {
      const h = await home();
      let [v1Db, v2Db, refDb] = [await openDb(h.v1Path), await openDb(h.v2Path), await openDb(h.refPath)];
      try {
        const ref = await MultiStoreV1.open(refDb);
        let rs = await RootStore.open(v1Db, v2Db);
        const events: RootStoreEvent[] = [];
        rs.events$.subscribe((e) => events.push(e));
        rs.pause();
        const w = new Workload(STORES, 1200, 5);
        const commitBoth = async () => {
          const cs = w.block(40);
          const [a, b] = [await rs.commit(cs), await ref.commit(cs)];
          expect(toHex(a.appHash)).toBe(toHex(b.appHash));
        };
        for (let i = 0; i < 3; i++) await commitBoth();
        await rs.manager.buffer.drain();
        const kv = new KvDb(v2Db);
        if (fault === 'gap') await kv.del(changesetKey(32));
        else await kv.put(changesetKey(32), new Uint8Array([2, 1, 0x41]));
        rs.resume();
        await waitFor(() => events.some((e) => e.type === 'failed'), 20_000);
        const failed = events.find((e) => e.type === 'failed');
        expect(failed?.type === 'failed' && failed.error.code).toBe(
          fault === 'gap' ? 'ERR_CHANGESET_GAP' : 'ERR_INVALID_CHANGESET',
        );
        expect(rs.status().phase).toBe('failed');
        // The node keeps committing on v1 with the right app hash, and nothing switches.
        for (let i = 0; i < 3; i++) await commitBoth();
        expect(rs.switchedAtVersion).toBeUndefined();
        await rs.close();
        await v1Db.close();
        await v2Db.close();
        // Restart: the broken buffer is detected and the migration starts over at the new height.
        [v1Db, v2Db] = [await openDb(h.v1Path), await openDb(h.v2Path)];
        rs = await RootStore.open(v1Db, v2Db);
        await waitFor(() => rs.migratedVersion === rs.latestVersion, 20_000);
        for (let i = 0; i < 3; i++) await commitBoth();
        expect(rs.switchedAtVersion).toBe(36);
        for (let v = 30; v <= 39; v++) {
          expect(toHex((await rs.commitInfo(v)).appHash)).toBe(toHex((await ref.getCommitInfo(v)).appHash));
        }
        await rs.close();
      } finally {
        await v1Db.close();
        await v2Db.close();
        await refDb.close();
      }
    });
  }

  it('a conflicting duplicate changeset fails the migration, the node keeps committing on v1, and a restart succeeds', async () => {
    const h = await home();
    let [v1Db, v2Db, refDb] = [await openDb(h.v1Path), await openDb(h.v2Path), await openDb(h.refPath)];
    try {
      const ref = await MultiStoreV1.open(refDb);
      let rs = await RootStore.open(v1Db, v2Db);
      const events: RootStoreEvent[] = [];
      rs.events$.subscribe((e) => events.push(e));
      const w = new Workload(STORES, 1200, 8);
      const commitBoth = async () => {
        const cs = w.block(40);
        const [a, b] = [await rs.commit(cs), await ref.commit(cs)];
        expect(toHex(a.appHash)).toBe(toHex(b.appHash));
      };
      await commitBoth();
      // Someone wrote version 32 into the buffer with other contents before the node commits it.
      await rs.manager.buffer.write({ version: 32, changeset: w.block(5) });
      await commitBoth();
      await waitFor(() => events.some((e) => e.type === 'failed'), 20_000);
      const failed = events.find((e) => e.type === 'failed');
      expect(failed?.type === 'failed' && failed.error.code).toBe('ERR_CHANGESET_CONFLICT');
      for (let i = 0; i < 3; i++) await commitBoth();
      expect(rs.switchedAtVersion).toBeUndefined();
      await rs.close();
      await v1Db.close();
      await v2Db.close();
      [v1Db, v2Db] = [await openDb(h.v1Path), await openDb(h.v2Path)];
      rs = await RootStore.open(v1Db, v2Db);
      await waitFor(() => rs.migratedVersion === rs.latestVersion, 20_000);
      await commitBoth();
      expect(rs.switchedAtVersion).toBe(35);
      for (let v = 30; v <= 36; v++) {
        expect(toHex((await rs.commitInfo(v)).appHash)).toBe(toHex((await ref.getCommitInfo(v)).appHash));
      }
      await rs.close();
    } finally {
      await v1Db.close();
      await v2Db.close();
      await refDb.close();
    }
  });

  it('with history K, the last K heights stay queryable after v1 is deleted; older ones are pruned', async () => {
    const h = await home(800, 40);
    let [v1Db, v2Db, refDb] = [await openDb(h.v1Path), await openDb(h.v2Path), await openDb(h.refPath)];
    try {
      const ref = await MultiStoreV1.open(refDb);
      let rs = await RootStore.open(v1Db, v2Db, { history: 20 });
      const w = new Workload(STORES, 960, 9);
      await waitFor(() => rs.migratedVersion === 40, 20_000);
      for (let i = 0; i < 5; i++) {
        const cs = w.block(40);
        await rs.commit(cs);
        await ref.commit(cs);
      }
      expect(rs.switchedAtVersion).toBe(40);
      await rs.close();
      await v1Db.close();
      await v2Db.close();
      // The operator deletes v1.
      rmSync(h.v1Path, { recursive: true, force: true });
      [v1Db, v2Db] = [await openDb(h.v1Path), await openDb(h.v2Path)];
      rs = await RootStore.open(v1Db, v2Db);
      expect(rs.latestVersion).toBe(45);
      const keys = [0, 5, 100, 799, 900].map((i) => w.key(i));
      for (let v = 21; v <= 45; v++) {
        for (const store of STORES) {
          for (const key of keys) {
            expect((await rs.query(store, key, v)).value, `${store} @${v}`).toEqual(
              (await ref.query(store, key, v)).value,
            );
          }
        }
      }
      await expect(rs.query('acc', keys[0], 20)).rejects.toMatchObject({ code: 'ERR_VERSION_PRUNED' });
      await expect(rs.query('acc', keys[0], 3)).rejects.toMatchObject({ code: 'ERR_VERSION_PRUNED' });
      await rs.close();
    } finally {
      await v1Db.close();
      await v2Db.close();
      await refDb.close();
    }
  });
});
