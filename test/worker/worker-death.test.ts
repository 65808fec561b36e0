import { cpSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryLevel } from 'memory-level';
import { describe, expect, it } from 'vitest';
import { openDb } from '../../src/db/open-db.js';
import { toHex } from '../../src/encoding/bytes.js';
import { handoffSpillPath } from '../../src/migration/handoff-spill.js';
import { MultiStoreV1 } from '../../src/v1/multi-store-v1.js';
import { RootStore, type RootStoreEvent } from '../../src/v2/root/root-store.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { buildV1, Workload } from '../helpers/v1-builder.js';
import { waitFor } from '../helpers/wait-for.js';

const tempDir = useTempDirs();
const STORES = ['acc', 'bank'];

async function home() {
  const dir = tempDir('worker-death');
  const v1Path = join(dir, 'application.db');
  const refPath = join(dir, 'ref.db');
  const db = await openDb(v1Path);
  await buildV1(db, { stores: STORES, keysPerStore: 3000, versions: 20 });
  await db.close();
  cpSync(v1Path, refPath, { recursive: true });
  return { v1Path, v2Path: join(dir, 'v2'), refPath };
}

/** Commits `n` blocks to the node and to a v1-only reference; every app hash must agree. */
async function commitBoth(rs: RootStore, ref: MultiStoreV1, w: Workload, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const cs = w.block(40);
    const ci = await rs.commit(cs);
    const refCi = await ref.commit(cs);
    expect(toHex(ci.appHash), `app hash at ${ci.version}`).toBe(toHex(refCi.appHash));
  }
}

type Moment = 'start' | 'restore' | 'sync';

const cases: Array<{ when: Moment; how: string; options: Record<string, unknown>; shared?: boolean }> = [
  { when: 'restore', how: 'terminated', options: { throttle: 1500 } },
  { when: 'sync', how: 'terminated', options: { postponeSwitch: true } },
  { when: 'start', how: 'out of memory', options: { workerHeapMb: 1 } },
  // v1 and v2 opened shared, as node homes open them: the worker held handles of its own.
  { when: 'restore', how: 'terminated, shared handles', options: { throttle: 1500 }, shared: true },
  { when: 'sync', how: 'terminated, shared handles', options: { postponeSwitch: true }, shared: true },
];

describe('RootStore: a migration worker that dies', () => {
  it.each(cases)(
    'dies mid-$when ($how): failed event, the node commits on v1, the next start switches',
    async ({ when, how, options, shared }) => {
      const h = await home();
      const refDb = await openDb(h.refPath);
      const ref = await MultiStoreV1.open(refDb);
      const w = new Workload(STORES, 3500, 11);
      {
        const [v1Db, v2Db] = [
          await openDb(h.v1Path, { multithreading: shared }),
          await openDb(h.v2Path, { multithreading: shared }),
        ];
        const rs = await RootStore.open(v1Db, v2Db, { worker: true, ...options });
        const events: RootStoreEvent[] = [];
        rs.events$.subscribe((e) => events.push(e));
        if (how.startsWith('terminated')) {
          if (when === 'restore') await waitFor(() => (rs.status().progress.leavesDone ?? 0) > 0, 30_000);
          else {
            await waitFor(() => rs.migratedVersion === 20, 30_000);
            await commitBoth(rs, ref, w, 3);
            await waitFor(() => rs.migratedVersion === 23, 30_000);
            expect(rs.status().phase).toBe('waiting-switch');
            // The worker's spill of handed-over writes, beside v2 while it runs.
            expect(existsSync(handoffSpillPath(h.v2Path))).toBe(true);
          }
          await rs.migrationThread!.terminate();
        }
        await waitFor(() => events.some((e) => e.type === 'failed'), 30_000);
        const failed = events.find((e) => e.type === 'failed') as Extract<RootStoreEvent, { type: 'failed' }>;
        expect(failed.error.code).toBe('ERR_WORKER_DIED');
        if (how === 'out of memory') expect(failed.error.message).toMatch(/memory/i);
        expect(rs.status().phase).toBe('failed');
        expect(rs.status().error?.code).toBe('ERR_WORKER_DIED');
        await commitBoth(rs, ref, w, 5);
        expect(rs.isMigrating).toBe(false);
        // What the dead worker left beside v2 is gone with it.
        expect(existsSync(handoffSpillPath(h.v2Path))).toBe(false);
        await rs.close();
        // The caller's handles are open again after close.
        expect(v2Db.status).toBe('open');
        await v1Db.close();
        await v2Db.close();
      }
      // The next start resumes or starts over, catches up and switches. v1 and v2 open unshared:
      // the dead worker's handles must be gone, or LevelDB would still hold them locked.
      const [v1Db, v2Db] = [await openDb(h.v1Path), await openDb(h.v2Path)];
      try {
        const rs = await RootStore.open(v1Db, v2Db, { worker: true });
        await waitFor(() => rs.migratedVersion === rs.latestVersion, 30_000);
        await commitBoth(rs, ref, w, 3);
        expect(rs.switchedAtVersion).toBeDefined();
        expect(rs.status().phase).toBe('switched');
        for (const v of [20, rs.latestVersion]) {
          expect(toHex((await rs.commitInfo(v)).appHash)).toBe(toHex((await ref.getCommitInfo(v)).appHash));
        }
        await rs.close();
      } finally {
        await v1Db.close();
        await v2Db.close();
        await refDb.close();
      }
    },
  );
});

describe('RootStore worker: true, bad setup', () => {
  it('a v2 that is not an on-disk LevelDB is ERR_USAGE at open, and no migration starts', async () => {
    const h = await home();
    const v1Db = await openDb(h.v1Path);
    const v2Db = new MemoryLevel<Uint8Array, Uint8Array>({ keyEncoding: 'view', valueEncoding: 'view' });
    try {
      await expect(RootStore.open(v1Db, v2Db, { worker: true })).rejects.toMatchObject({ code: 'ERR_USAGE' });
      // v1 is untouched and still the node's: it opens and commits as before.
      const rs = await RootStore.open(v1Db, v2Db, { migrate: false });
      expect(rs.latestVersion).toBe(20);
      await rs.close();
    } finally {
      await v1Db.close();
      await v2Db.close();
    }
  });
});
