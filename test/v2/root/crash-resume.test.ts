import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDb } from '../../../src/db/open-db.js';
import { toHex } from '../../../src/encoding/bytes.js';
import { handoffSpillPath } from '../../../src/migration/handoff-spill.js';
import { MultiStoreV1 } from '../../../src/v1/multi-store-v1.js';
import { RootStore } from '../../../src/v2/root/root-store.js';
import { blockFor, keyOf, STORES } from '../../helpers/crash-workload.mjs';
import { dumpDb } from '../../helpers/db-dump.js';
import { Rng } from '../../helpers/random.js';
import { useTempDirs } from '../../helpers/temp-dir.js';

const tempDir = useTempDirs();
const CHILD = new URL('../../helpers/crash-node.mjs', import.meta.url).pathname;
const START = 25;
const TARGET = 400;
const KILLS = 14;

interface Run {
  lines: string[];
  exit: Promise<number | null>;
  child: ChildProcess;
}

function startNode(v1: string, v2: string, thread: string): Run {
  const child = spawn(process.execPath, [CHILD, v1, v2, String(TARGET), '3000', thread], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exit = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      if (code !== 0 && code !== null) lines.push(`STDERR ${err}`);
      resolve(code);
    }),
  );
  return { lines, exit, child };
}

/** The phase the node last reported (from its commit lines and events). */
function lastPhase(lines: string[]): string {
  for (let i = lines.length - 1; i >= 0; i--) {
    const [kind, a, b] = lines[i].split(' ');
    if (kind === 'E' && a === 'switched') return 'switched';
    if (kind === 'C' || kind === 'S') return b ?? a;
  }
  return 'starting';
}

// worker-spill: a node-key v1 (cosmos-sdk v0.50+) whose handed-over writes all go through the
// worker's spill, so kills land while it writes and reads it back.
describe.each(['main', 'worker', 'worker-journal', 'worker-spill'])(
  'crash and resume (SIGKILL at random moments), migration on the %s thread',
  (thread) => {
    const layout = thread === 'worker-spill' ? 'node-key' : undefined;
    it(`survives ${KILLS} kills spread over restore, sync and switch, and ends equivalent to a v1-only node`, async () => {
      const dir = tempDir('crash');
      const v1Path = join(dir, 'application.db');
      const v2Path = join(dir, 'v2');
      {
        const db = await openDb(v1Path);
        const ms = await MultiStoreV1.open(db, { stores: STORES, layout });
        for (let v = 1; v <= START; v++) await ms.commit(blockFor(v), v);
        await db.close();
      }
      const before = await (async () => {
        const db = await openDb(v1Path);
        const d = await dumpDb(db);
        await db.close();
        return d;
      })();

      const rng = new Rng(Number(process.env.CRASH_SEED ?? 77));
      const killedIn: string[] = [];
      // At least KILLS kills, and on until one lands after the restore (a loaded machine makes
      // the restore slow, so a fixed count may all land in it); bounded either way.
      const late = () => killedIn.some((p) => p === 'syncing' || p === 'switched');
      for (let k = 0; (k < KILLS || !late()) && k < 3 * KILLS; k++) {
        const run = startNode(v1Path, v2Path, thread);
        // Past the fixed count, lives get longer so the node gets beyond the restore.
        const delay = k < KILLS ? 350 + rng.int(1100) : 2000 + rng.int(3000);
        const outcome = await Promise.race([
          run.exit.then(() => 'exited' as const),
          new Promise((r) => setTimeout(r, delay)).then(() => 'kill' as const),
        ]);
        if (outcome === 'exited') {
          // It finished before we could kill it: that is fine, but it must have finished well.
          expect(run.lines.at(-1), run.lines.join('\n')).toBe('DONE');
          break;
        }
        killedIn.push(lastPhase(run.lines));
        run.child.kill('SIGKILL');
        await run.exit;
      }
      // A last run, left alone, completes.
      const final = startNode(v1Path, v2Path, thread);
      expect(await final.exit, final.lines.slice(-5).join('\n')).toBe(0);
      expect(final.lines.at(-1)).toBe('DONE');
      expect(killedIn.length).toBeGreaterThanOrEqual(10);
      // The kills landed in every stage.
      expect(killedIn.some((p) => p === 'restoring' || p === 'starting' || p === 'not-started')).toBe(true);
      expect(killedIn.some((p) => p === 'syncing' || p === 'switched')).toBe(true);

      // Reference: a v1-only node fed the same blocks.
      const refDb = await openDb(join(dir, 'ref.db'));
      const v1Db = await openDb(v1Path);
      const v2Db = await openDb(v2Path);
      try {
        const ref = await MultiStoreV1.open(refDb, { stores: STORES });
        const rs = await RootStore.open(v1Db, v2Db);
        expect(rs.switchedAtVersion).toBeDefined();
        const latest = rs.latestVersion;
        expect(latest).toBeGreaterThanOrEqual(TARGET);
        for (let v = 1; v <= latest; v++) await ref.commit(blockFor(v), v);
        for (let v = 1; v <= latest; v++) {
          expect(toHex((await rs.commitInfo(v)).appHash), `app hash ${v}`).toBe(
            toHex((await ref.getCommitInfo(v)).appHash),
          );
          for (const store of STORES) {
            for (const i of [1, 99, 1500, 2300]) {
              expect((await rs.query(store, keyOf(i), v)).value).toEqual(
                (await ref.query(store, keyOf(i), v)).value,
              );
            }
          }
        }
        await rs.close();
        // Nothing of the worker's spill outlives the migration, kills or not.
        expect(existsSync(handoffSpillPath(v2Path))).toBe(false);
        // v1's data of the versions up to the start is byte for byte what it was.
        const after = new Set(await dumpDb(v1Db));
        const latestKey = Buffer.from('s/latest').toString('hex');
        expect(before.filter((e) => !e.startsWith(`${latestKey}=`) && !after.has(e))).toEqual([]);
      } finally {
        await refDb.close();
        await v1Db.close();
        await v2Db.close();
      }
    }, 240_000);
  },
);
