import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { openDb } from '../../../src/db/open-db.js';
import { toHex } from '../../../src/encoding/bytes.js';
import { MultiStoreV1 } from '../../../src/v1/multi-store-v1.js';
import { RootStore, type RootStoreEvent } from '../../../src/v2/root/root-store.js';
import { useTempDirs } from '../../helpers/temp-dir.js';
import { buildV1, Workload } from '../../helpers/v1-builder.js';

const tempDir = useTempDirs();
const STORES = ['acc', 'bank', 'staking'];

/** A node home whose v1 has `versions` versions, and a copy of that v1 to commit the same blocks to. */
async function homeWithReference(versions: number, layout: 'legacy' | 'node-key', sharedV1 = false) {
  const dir = tempDir('root');
  const v1Path = join(dir, 'home', 'application.db');
  const refPath = join(dir, 'ref.db');
  const db = await openDb(v1Path);
  await buildV1(db, { stores: STORES, keysPerStore: 5000, versions, layout });
  await db.close();
  cpSync(v1Path, refPath, { recursive: true });
  return {
    v1Db: await openDb(v1Path, { multithreading: sharedV1 }),
    v2Db: await openDb(join(dir, 'home', 'v2'), { multithreading: sharedV1 }),
    refDb: await openDb(refPath),
  };
}

describe.each([
  { thread: 'the node thread', worker: false, layout: 'legacy' as const, shared: false },
  { thread: 'a worker thread', worker: true, layout: 'legacy' as const, shared: false },
  // v0.50's layout: the worker's sync copies versions from v1 through the node thread's reads.
  { thread: 'a worker thread, node-key v1', worker: true, layout: 'node-key' as const, shared: false },
  { thread: 'the node thread, node-key v1', worker: false, layout: 'node-key' as const, shared: false },
  // v1 and v2 opened shared (as node homes open them): the worker reads v1 on its own thread,
  // and the node keeps its v2 handle open (unused) while the worker owns v2.
  { thread: 'a worker thread, shared node-key v1', worker: true, layout: 'node-key' as const, shared: true },
  { thread: 'a worker thread, shared legacy v1', worker: true, layout: 'legacy' as const, shared: true },
])('RootStore: background migration on $thread with app-hash continuity', ({ worker, layout, shared }) => {
  it('migrates while 100 blocks are committed, switches, and matches a v1-only reference at every height', async () => {
    const { v1Db, v2Db, refDb } = await homeWithReference(50, layout, shared);
    try {
      const ref = await MultiStoreV1.open(refDb);
      // Throttled so blocks land during the restore, the sync and after the switch.
      const logs: Array<{
        msg: string;
        copied?: number;
        replayed?: number;
        handedOver?: number;
        v1Reads?: string;
      }> = [];
      const logger = pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line)) });
      const rs = await RootStore.open(v1Db, v2Db, { throttle: 20_000, worker, logger });
      const events: RootStoreEvent[] = [];
      rs.events$.subscribe((e) => events.push(e));
      const { workload } = {
        workload: new (await import('../../helpers/v1-builder.js')).Workload(STORES, 6000, 7),
      };
      const phases: string[] = [];
      for (let b = 0; b < 100; b++) {
        const cs = workload.block(300);
        phases.push(rs.status().phase);
        // While the worker owns v2, this thread has no StateCommitment to hand out; its own
        // handle stays open only when shared.
        if (worker && b === 1) {
          expect(() => rs.sc).toThrow(/migration worker/);
          expect(v2Db.status).toBe(shared ? 'open' : 'closed');
        }
        const ci = await rs.commit(cs);
        const refCi = await ref.commit(cs);
        expect(ci.version).toBe(refCi.version);
        expect(toHex(ci.appHash), `app hash at ${ci.version}`).toBe(toHex(refCi.appHash));
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(phases).toContain('restoring');
      expect(phases).toContain('switched');
      expect(events.map((e) => e.type)).toEqual(['started', 'restored', 'syncing', 'switched']);
      const switchedAt = rs.switchedAtVersion!;
      expect(switchedAt).toBeGreaterThan(50);
      expect(switchedAt).toBeLessThan(150);
      expect(rs.isMigrating).toBe(false);
      expect(rs.latestVersion).toBe(150);
      // How the sync made SC's versions: copied from a node-key v1, replayed from a legacy one.
      const ended = logs.find((l) => l.msg.startsWith('sync ended'));
      expect(ended, 'the sync-ended log line').toBeDefined();
      // Each block committed meanwhile hands v1's new nodes over: none is read back from v1.
      if (layout === 'node-key') expect(ended).toMatchObject({ replayed: 0, handedOver: ended?.copied });
      else expect(ended).toMatchObject({ copied: 0, handedOver: 0 });
      // Versions 51 up to the switch, each made once.
      expect(ended!.copied! + ended!.replayed!).toBe(switchedAt - 50);
      // Where the worker read v1: on its own thread when v1 is shared, else through this one.
      const v1Reads = logs.filter((l) => l.v1Reads !== undefined).map((l) => l.v1Reads);
      expect(v1Reads).toEqual(worker ? [shared ? 'worker' : 'node-thread'] : []);

      // Every height, before, during and after the switch: app hash and sampled keys.
      for (let h = 1; h <= 150; h++) {
        expect(toHex((await rs.commitInfo(h)).appHash), `commit info ${h}`).toBe(
          toHex((await ref.getCommitInfo(h)).appHash),
        );
        for (const store of STORES) {
          for (const i of [0, 17, 1234, 4999, 5500 + (h % 400)]) {
            const key = workload.key(i);
            expect((await rs.query(store, key, h)).value, `${store} ${i} @${h}`).toEqual(
              (await ref.query(store, key, h)).value,
            );
          }
        }
      }
      await rs.close();
    } finally {
      await v1Db.close();
      await v2Db.close();
      await refDb.close();
    }
  });
});

describe('RootStore: blocks back to back', () => {
  it('a worker migration of a node-key v1 catches up and switches at a block boundary, hashes intact', async () => {
    const { v1Db, v2Db, refDb } = await homeWithReference(20, 'node-key');
    try {
      const ref = await MultiStoreV1.open(refDb);
      const rs = await RootStore.open(v1Db, v2Db, { worker: true });
      const workload = new Workload(STORES, 6000, 9);
      // No pause between blocks (the reference commits afterwards): only a wait at the
      // boundary lets the sync have v1's latest.
      const blocks: Array<{ cs: ReturnType<Workload['block']>; hash: string }> = [];
      for (let b = 0; b < 400 && rs.switchedAtVersion === undefined; b++) {
        const cs = workload.block(300);
        blocks.push({ cs, hash: toHex((await rs.commit(cs)).appHash) });
      }
      expect(rs.switchedAtVersion, 'switched within 400 blocks').toBeDefined();
      for (let b = 0; b < 5; b++) {
        const cs = workload.block(300);
        blocks.push({ cs, hash: toHex((await rs.commit(cs)).appHash) });
      }
      for (const [i, b] of blocks.entries()) {
        expect(b.hash, `app hash of block ${i}`).toBe(toHex((await ref.commit(b.cs)).appHash));
      }
      for (let h = 1; h <= rs.latestVersion; h += 7) {
        expect(toHex((await rs.commitInfo(h)).appHash), `commit info ${h}`).toBe(
          toHex((await ref.getCommitInfo(h)).appHash),
        );
      }
      await rs.close();
    } finally {
      await v1Db.close();
      await v2Db.close();
      await refDb.close();
    }
  });
});
