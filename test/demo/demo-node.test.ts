import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEMO_MARKER, prepareDemoHome } from '../../src/demo/demo-home.js';
import { type DemoBlock, runDemo } from '../../src/demo/demo-node.js';
import { isStoreMigrateError } from '../../src/errors.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();

const TINY = {
  stores: 2,
  keys: 3000,
  versions: 5,
  blocksBefore: 3,
  blocks: 5,
  blockKeys: 10,
  blockIntervalMs: 20,
};

async function rpcCall(url: string, method: string): Promise<unknown> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: {} }),
  });
  return ((await res.json()) as { result: unknown }).result;
}

describe('runDemo', () => {
  it('migrates in the background while committing blocks, with the app hash unchanged at every height', async () => {
    const home = join(tempDir('demo'), 'home');
    const blocks: DemoBlock[] = [];
    const logs: string[] = [];
    const events: string[] = [];
    let rpcUrl: string | undefined;
    // migration_status as an RPC client sees it, at the first block during the migration and after it.
    const statuses = new Map<string, Promise<unknown>>();
    const summary = await runDemo(
      { ...TINY, home, rpcPort: 0 },
      {
        log: (m) => logs.push(m),
        onRootStore: (store) => store.events$.subscribe((e) => events.push(e.type)),
        onRpc: (url) => {
          rpcUrl = url;
        },
        onBlock: (b) => {
          blocks.push(b);
          if (rpcUrl && b.stage !== 'before' && !statuses.has(b.stage)) {
            statuses.set(b.stage, rpcCall(rpcUrl, 'migration_status'));
          }
        },
      },
    );

    expect(summary.appHashContinuity).toBe(true);
    expect(summary.mismatches).toEqual([]);
    expect(summary.switchedAtVersion).toBeGreaterThanOrEqual(TINY.versions + TINY.blocksBefore);
    expect(summary.finalVersion).toBe(summary.switchedAtVersion + TINY.blocks);
    expect(summary.migration.height).toBe(TINY.versions + TINY.blocksBefore);
    expect(summary.migration.leaves).toBeGreaterThan(2900);
    expect(summary.migration.leavesPerSec).toBeGreaterThan(0);
    expect(summary.migration.durationMs).toBeGreaterThanOrEqual(summary.migration.restoreMs);
    expect(summary.migration.syncedVersions).toBe(summary.switchedAtVersion - summary.migration.height);
    expect(events).toEqual(['started', 'restored', 'syncing', 'switched']);

    // One block per version after the generated history, each reported once, in stage order.
    expect(blocks.map((b) => b.version)).toEqual(
      Array.from({ length: summary.finalVersion - TINY.versions }, (_, i) => TINY.versions + 1 + i),
    );
    expect(blocks.every((b) => b.appHashOk)).toBe(true);
    expect(blocks.filter((b) => b.stage === 'before')).toHaveLength(TINY.blocksBefore);
    const after = blocks.filter((b) => b.stage === 'after');
    expect(after).toHaveLength(TINY.blocks);
    expect(after.every((b) => b.mode === 'v2' && b.version > summary.switchedAtVersion)).toBe(true);
    expect(summary.blocks).toMatchObject({
      before: TINY.blocksBefore,
      after: TINY.blocks,
      during: summary.switchedAtVersion - summary.migration.height,
    });

    const lat = summary.commitLatencyMs;
    expect(lat.count).toBe(blocks.length);
    for (const s of [lat, lat.before, lat.during, lat.after]) {
      expect(s.p50).toBeGreaterThan(0);
      expect(s.p99).toBeGreaterThanOrEqual(s.p50);
      expect(s.max).toBeGreaterThanOrEqual(s.p99);
    }
    expect(lat.before.count + lat.during.count + lat.after.count).toBe(lat.count);

    expect(summary.paths).toEqual({
      home,
      v1: join(home, 'application.db'),
      v2: join(home, 'v2'),
      reference: join(home, 'reference.db'),
    });
    for (const p of [summary.paths.v1, summary.paths.v2, summary.paths.reference])
      expect(existsSync(p)).toBe(true);
    expect(summary.rpc?.url).toBe(rpcUrl);
    expect(await statuses.get('after')).toMatchObject({
      phase: 'switched',
      switchedAtVersion: summary.switchedAtVersion,
    });
    if (statuses.has('during')) {
      const status = (await statuses.get('during')) as { phase: string };
      expect(['restoring', 'syncing', 'switched']).toContain(status.phase);
    }
    expect(logs.some((l) => l.startsWith('switched to store v2'))).toBe(true);

    // A second run wipes what the first one made.
    const again = await runDemo({ ...TINY, home, blocksBefore: 1, blocks: 1 });
    expect(again.appHashContinuity).toBe(true);
    expect(again.finalVersion).toBe(again.switchedAtVersion + 1);
  });

  it('refuses a non-empty directory that a demo did not make, and leaves it alone', async () => {
    const home = tempDir('demo-other');
    writeFileSync(join(home, 'precious.txt'), 'keep me');
    mkdirSync(join(home, 'application.db'));
    const err = await runDemo({ ...TINY, home }).catch((e: unknown) => e);
    expect(isStoreMigrateError(err, 'ERR_INVALID_PARAMS')).toBe(true);
    expect((err as Error).message).toMatch(/not empty and was not made by store-migrate demo/);
    expect(readdirSync(home).sort()).toEqual(['application.db', 'precious.txt']);
  });

  it.each([
    [{ workerNice: 20 }, /workerNice must be an integer from 0 to 19, not 20/],
    [{ workerNice: -1 }, /workerNice must be an integer from 0 to 19, not -1/],
    [{ layout: 'mixed' }, /layout must be legacy or node-key, not mixed/],
  ])('rejects %o with ERR_INVALID_PARAMS before touching the home', async (bad, message) => {
    const home = join(tempDir('demo-bad'), 'home');
    const err = await runDemo({ ...TINY, home, ...(bad as object) }).catch((e: unknown) => e);
    expect(isStoreMigrateError(err, 'ERR_INVALID_PARAMS')).toBe(true);
    expect((err as Error).message).toMatch(message);
    expect(existsSync(home)).toBe(false);
  });

  it('prepares a home: creates it, marks it, and wipes only a marked one', () => {
    const base = tempDir('demo-home');
    const home = join(base, 'a', 'b');
    const paths = prepareDemoHome(home);
    expect(paths.home).toBe(home);
    expect(readdirSync(home)).toEqual([DEMO_MARKER]);
    writeFileSync(join(home, 'old.txt'), 'from an earlier demo');
    mkdirSync(join(home, 'v2'));
    prepareDemoHome(home);
    expect(readdirSync(home)).toEqual([DEMO_MARKER]);
    // An empty directory is fine too.
    const empty = tempDir('demo-empty');
    prepareDemoHome(empty);
    expect(readdirSync(empty)).toEqual([DEMO_MARKER]);
    // A file is not a home.
    writeFileSync(join(base, 'file'), 'x');
    expect(() => prepareDemoHome(join(base, 'file'))).toThrow(/not a directory/);
  });

  it('rejects bad options', async () => {
    const home = tempDir('demo-bad');
    await expect(runDemo({ ...TINY, home, keys: 0 })).rejects.toThrow(/keys must be a positive integer/);
    await expect(runDemo({ ...TINY, home, blockIntervalMs: -1 })).rejects.toThrow(/non-negative/);
  });
});
