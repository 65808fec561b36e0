import { join } from 'node:path';
import { filter, firstValueFrom, map, ReplaySubject } from 'rxjs';
import { openDb } from '../src/db/open-db.js';
import { type LatencySummary, summarizeLatencies } from '../src/demo/latency-stats.js';
import { toHex } from '../src/encoding/bytes.js';
import { type Changeset, decodeChangeset } from '../src/encoding/changeset.js';
import { RootStore, type RootStoreEvent } from '../src/v2/root/root-store.js';
import {
  gitInfo,
  load1m,
  type MachineInfo,
  machineInfo,
  PhaseClock,
  type PhaseTiming,
  type TargetCheck,
  target,
} from './lib/bench-env.js';
import { blocksFor } from './lib/blocks.js';
import { copyFixture, ensureFixture, type FixtureSpec } from './lib/fixture.js';
import { int, ms, perSec, type TableRow } from './lib/format.js';
import { TempDirs } from './lib/fs-util.js';
import type { GitInfo } from './lib/git.js';
import { type Scenario, type ScenarioOutput, scenarioOutput } from './lib/scenario.js';

export const SYNC_TARGETS = {
  /** Buffered blocks replayed per second, at 1,000 changes per block. */
  blocksPerSec: 20,
} as const;

/** A Cosmos chain's block time: one block every 5 s. */
const CHAIN_BLOCK_SECONDS = 5;

export interface SyncBenchOptions {
  leaves?: number;
  stores?: number;
  seed?: number;
  /** Tree layout of the v1 fixture: legacy (cosmos-sdk ≤ v0.47, the default) or node-key (v0.50+). */
  layout?: 'legacy' | 'node-key';
  /** Blocks buffered and replayed. Default 200. */
  blocks?: number;
  /** Changes per block. Default 1,000. */
  blockChanges?: number;
  /**
   * Where the migration runs: a worker thread under RootStore (default, as a node runs it),
   * whose v1 reads the node thread serves and to which v1's commits hand their new nodes; or
   * the main thread (the MigrationManager driven directly, every read on one thread).
   */
  thread?: 'worker' | 'main';
  log?: (line: string) => void;
}

export interface SyncBenchResult {
  scenario: 'sync';
  date: string;
  machine: MachineInfo;
  git: GitInfo;
  params: FixtureSpec & {
    blocks: number;
    blockChanges: number;
    chainBlockSeconds: number;
    thread: 'worker' | 'main';
  };
  fixture: { key: string; fromCache: boolean; version: number; appHash: string };
  phases: {
    /** RootStore.commit of each block on v1 (no migration running), then ChangesetBuffer.write. */
    commit: PhaseTiming & {
      commitLatency: LatencySummary;
      commitBlocksPerSec: number;
      bufferWriteMs: number;
    };
    /** MigrationManager.migrate(height) of v1 at the height before the blocks. */
    restore: PhaseTiming & { leaves: number; leavesPerSec: number };
    /** MigrationManager.sync() until the last buffered block is migrated. */
    sync: PhaseTiming & {
      blocks: number;
      blocksPerSec: number;
      /** Per block: from the previous block's migration to this one's. */
      perBlock: LatencySummary;
      /** Time inside the calls sync makes, summed over the blocks. */
      /** scCopy: StateCommitment.commitCopied (a version copied from v1); other includes v1's reads for it. Main thread only. */
      breakdownMs: SyncBreakdown | null;
      /** How SC's versions were made: copied from v1 node for node, or replayed. Main thread only. */
      copied: number | null;
      replayed: number | null;
      appHash: string;
      appHashMatchesV1: boolean;
    };
  };
  syncBlocksPerSec: number;
  /** The chain's arrival rate (1 / CHAIN_BLOCK_SECONDS) and this machine's RootStore commit rate. */
  chainBlocksPerSec: number;
  commitBlocksPerSec: number;
  /** How much faster the replay is than blocks arrive: over the chain rate, and over the commit rate. */
  headroomOverChain: number;
  headroomOverCommit: number;
  targets: TargetCheck[];
  pass: boolean;
  totalMs: number;
  marks: Record<string, [number, number]>;
}

type SyncBreakdown = { bufferRead: number; scCommit: number; scCopy: number; ssApply: number; other: number };

interface SyncContext {
  dir: string;
  v1Path: string;
  blocks: Uint8Array[];
  leaves: number;
  temp: TempDirs;
  clock: PhaseClock;
  log: (line: string) => void;
}

/** What one way of running the sync measured. */
interface SyncRun {
  committed: { value: { latencies: number[]; bufferWriteMs: number }; timing: PhaseTiming };
  restored: { value: { durationMs: number; leaves: number }; timing: PhaseTiming };
  synced: { value: { elapsed: number; first: number }; timing: PhaseTiming };
  /** When each synced version was done. */
  stamps: number[];
  breakdownMs: SyncBreakdown | null;
  counts: { copied: number; replayed: number } | null;
  v1AppHash: string;
  scAppHash: string;
}

/** Wraps a method of one object so that its time (sync or async) adds into `acc[name]`. */
function timeMethod<T extends object>(
  obj: T,
  method: keyof T & string,
  acc: Record<string, number>,
  name: string,
) {
  const o = obj as unknown as Record<string, (...args: unknown[]) => unknown>;
  const original = o[method].bind(obj);
  acc[name] = 0;
  o[method] = (...args: unknown[]) => {
    const t = performance.now();
    const r = original(...args);
    if (r instanceof Promise) {
      return r.finally(() => {
        acc[name] += performance.now() - t;
      });
    }
    acc[name] += performance.now() - t;
    return r;
  };
}

/**
 * The replay rate of buffered changesets: `blocks` blocks are committed to v1 through a
 * RootStore (no migration running; their commit rate is measured too) and written to its
 * MigrationManager's ChangesetBuffer; then migrate(height) restores SC and SS at the height
 * before them, and sync() replays the buffered blocks into SC and SS (each checked against
 * v1's app hash) while the clock runs.
 */
export async function runSyncBench(options: SyncBenchOptions = {}): Promise<SyncBenchResult> {
  const spec: FixtureSpec = {
    leaves: options.leaves ?? 500_000,
    stores: options.stores ?? 10,
    versions: 2,
    seed: options.seed ?? 1,
    ...(options.layout === 'node-key' ? { layout: 'node-key' as const } : {}),
  };
  const blockCount = options.blocks ?? 200;
  const blockChanges = options.blockChanges ?? 1_000;
  const thread = options.thread ?? 'worker';
  const log = options.log ?? (() => {});
  const started = performance.now();
  const loadStart = load1m();
  const clock = new PhaseClock();
  const temp = new TempDirs();
  try {
    const fixture = await ensureFixture(spec, log);
    const dir = await temp.make('sync');
    const v1Path = join(dir, 'application.db');
    await copyFixture(fixture, v1Path);
    const blocks = await blocksFor(v1Path, spec.seed + 1, blockCount, blockChanges);
    const ctx = { dir, v1Path, blocks, leaves: spec.leaves, temp, clock, log };
    const run = thread === 'worker' ? await syncOnWorker(ctx) : await syncOnMain(ctx);
    const { committed, restored, synced, stamps } = run;
    const syncMs = synced.value.elapsed;
    const perBlock = stamps.map((t, i) => t - (i === 0 ? synced.value.first : stamps[i - 1]));
    const commitLatency = summarizeLatencies(committed.value.latencies);
    const commitBlocksPerSec = perSec(
      blockCount,
      committed.value.latencies.reduce((a, x) => a + x, 0),
    );
    if (run.scAppHash !== run.v1AppHash)
      throw new Error(`SC app hash ${run.scAppHash} at the last block is not v1's ${run.v1AppHash}`);

    const syncBlocksPerSec = perSec(blockCount, syncMs);
    const chainBlocksPerSec = 1 / CHAIN_BLOCK_SECONDS;
    log(`sync: ${syncBlocksPerSec.toFixed(1)} blocks/s`);
    const targets = [target('sync blocks/s', syncBlocksPerSec, SYNC_TARGETS.blocksPerSec, 'higher')];
    return {
      scenario: 'sync',
      date: new Date().toISOString(),
      machine: machineInfo(loadStart),
      git: gitInfo(),
      params: { ...spec, blocks: blockCount, blockChanges, chainBlockSeconds: CHAIN_BLOCK_SECONDS, thread },
      fixture: {
        key: fixture.key,
        fromCache: !fixture.generated,
        version: fixture.meta.latestVersion,
        appHash: fixture.meta.appHash,
      },
      phases: {
        commit: {
          ...committed.timing,
          commitLatency,
          commitBlocksPerSec,
          bufferWriteMs: committed.value.bufferWriteMs,
        },
        restore: {
          ...restored.timing,
          leaves: restored.value.leaves,
          leavesPerSec: perSec(restored.value.leaves, restored.value.durationMs),
        },
        sync: {
          ...synced.timing,
          elapsedMs: syncMs,
          blocks: stamps.length,
          blocksPerSec: syncBlocksPerSec,
          perBlock: summarizeLatencies(perBlock),
          breakdownMs: run.breakdownMs,
          copied: run.counts?.copied ?? null,
          replayed: run.counts?.replayed ?? null,
          appHash: run.scAppHash,
          appHashMatchesV1: true,
        },
      },
      syncBlocksPerSec,
      chainBlocksPerSec,
      commitBlocksPerSec,
      headroomOverChain: syncBlocksPerSec / chainBlocksPerSec,
      headroomOverCommit: commitBlocksPerSec > 0 ? syncBlocksPerSec / commitBlocksPerSec : 0,
      targets,
      pass: targets.every((x) => x.pass),
      totalMs: performance.now() - started,
      marks: clock.marks,
    };
  } finally {
    await temp.removeAll();
  }
}

/** Commits every block to v1 through `store`, timing each; `after` runs outside the timing. */
function commitBlocks(
  store: RootStore,
  blocks: Uint8Array[],
  clock: PhaseClock,
  after?: (version: number, cs: Changeset) => Promise<void>,
) {
  return clock.time('commit', async () => {
    const latencies: number[] = [];
    let bufferWriteMs = 0;
    for (const encoded of blocks) {
      const cs = decodeChangeset(encoded);
      const t = performance.now();
      const ci = await store.commit(cs);
      const t1 = performance.now();
      latencies.push(t1 - t);
      await after?.(ci.version, cs);
      bufferWriteMs += performance.now() - t1;
    }
    return { latencies, bufferWriteMs };
  });
}

/**
 * The MigrationManager driven on this thread: the blocks are committed to v1 (no migration
 * running) and written to its ChangesetBuffer, then migrate(height) restores and sync()
 * replays them, every v1 read on this thread too.
 */
async function syncOnMain({ dir, v1Path, blocks, temp, clock, log }: SyncContext): Promise<SyncRun> {
  const v1Db = temp.track(await openDb(v1Path, { createIfMissing: false }));
  const v2Db = temp.track(await openDb(join(dir, 'v2')));
  const store = await RootStore.open(v1Db, v2Db, { migrate: false });
  const manager = store.manager;
  const height = store.v1.latestVersion;
  const last = height + blocks.length;
  log(`committing ${blocks.length} blocks to v1 and buffering them`);
  const committed = await commitBlocks(store, blocks, clock, (version, changeset) =>
    manager.buffer.write({ version, changeset }, height),
  );
  manager.confirm(last);
  const v1AppHash = toHex((await store.v1.getCommitInfo(last)).appHash);
  log(`restoring SC and SS at height ${height}`);
  const restored = await clock.time('restore', () => manager.migrate(height));
  const acc: Record<string, number> = {};
  timeMethod(manager.buffer, 'read', acc, 'bufferRead');
  timeMethod(store.sc, 'commit', acc, 'scCommit');
  timeMethod(store.sc, 'commitCopied', acc, 'scCopy');
  timeMethod(store.ss, 'applyChangeset', acc, 'ssApply');
  log(`sync: replaying ${blocks.length} buffered blocks into SC and SS`);
  const stamps: number[] = [];
  const synced = await clock.time('sync', async () => {
    const t0 = performance.now();
    const done = untilMigrated(manager, last, stamps);
    const running = manager.sync();
    try {
      await Promise.race([
        done.reached,
        running.then(() => {
          throw new Error(`sync stopped before version ${last}`);
        }),
      ]);
    } finally {
      done.off();
    }
    const elapsed = performance.now() - t0;
    await manager.close();
    await running;
    return { elapsed, first: t0 };
  });
  const scAppHash = toHex((await store.sc.getCommitInfo(last)).appHash);
  const other = synced.value.elapsed - acc.bufferRead - acc.scCommit - acc.scCopy - acc.ssApply;
  const counts = manager.syncCounts;
  await store.close();
  await temp.closeDbs();
  return {
    committed,
    restored,
    synced,
    stamps,
    breakdownMs: {
      bufferRead: acc.bufferRead,
      scCommit: acc.scCommit,
      scCopy: acc.scCopy,
      ssApply: acc.ssApply,
      other,
    },
    counts: { copied: counts.copied, replayed: counts.replayed },
    v1AppHash,
    scAppHash,
  };
}

/** Resolves `reached` once the migration has `last`, stamping each version on the way. */
function untilMigrated(
  m: { onMigrated(listener: (version: number) => void): () => void },
  last: number,
  stamps: number[],
  from = 0,
): { reached: Promise<void>; off: () => void } {
  let off: () => void = () => {};
  const reached = new Promise<void>((resolve) => {
    off = m.onMigrated((v) => {
      if (v <= from) return;
      stamps.push(performance.now());
      if (v >= last) resolve();
    });
  });
  return { reached, off };
}

/**
 * The migration as a node runs it, on a worker thread under RootStore: paused as soon as the
 * worker is up, the blocks are committed (buffered by the worker, their new nodes handed
 * over as v1 commits them); then it resumes, restores at the height before them and syncs
 * them. The sync is timed from the restore's end; the switch, postponed until then, checks
 * SC's app hash against v1's.
 */
async function syncOnWorker(ctx: SyncContext): Promise<SyncRun> {
  const { dir, v1Path, blocks, temp, clock, log } = ctx;
  const v1Db = temp.track(await openDb(v1Path, { createIfMissing: false }));
  const v2Db = temp.track(await openDb(join(dir, 'v2')));
  const store = await RootStore.open(v1Db, v2Db, { migrate: false, worker: true, postponeSwitch: true });
  const height = store.v1.latestVersion;
  const last = height + blocks.length;
  const events = new ReplaySubject<RootStoreEvent>();
  const sub = store.events$.subscribe(events);
  const event = (type: RootStoreEvent['type']) =>
    firstValueFrom(
      events.pipe(
        map((e) => {
          if (e.type === 'failed') throw e.error;
          return e;
        }),
        filter((e) => e.type === type),
      ),
    );
  try {
    store.startMigration();
    const thread = await waitFor(() => store.migrationThread);
    thread.pause();
    log(`committing ${blocks.length} blocks to v1, buffered by the paused migration worker`);
    const committed = await commitBlocks(store, blocks, clock);
    const v1AppHash = toHex((await store.v1.getCommitInfo(last)).appHash);
    const stamps: number[] = [];
    const done = untilMigrated(thread, last, stamps, height);
    log(`restoring SC and SS at height ${height} on the worker`);
    const restored = await clock.time('restore', async () => {
      const t0 = performance.now();
      thread.resume();
      await event('restored');
      return { durationMs: performance.now() - t0, leaves: ctx.leaves };
    });
    log(`sync: ${blocks.length} buffered blocks on the worker`);
    const synced = await clock.time('sync', async () => {
      const t0 = performance.now();
      await done.reached;
      done.off();
      return { elapsed: performance.now() - t0, first: t0 };
    });
    store.releaseSwitch();
    await event('switched');
    const scAppHash = toHex((await store.sc.getCommitInfo(last)).appHash);
    return { committed, restored, synced, stamps, breakdownMs: null, counts: null, v1AppHash, scAppHash };
  } finally {
    sub.unsubscribe();
    await store.close();
    await temp.closeDbs();
  }
}

/** Polls `get` every 5 ms until it returns something (at most a minute). */
async function waitFor<T>(get: () => T | undefined): Promise<T> {
  for (let waited = 0; waited < 60_000; waited += 5) {
    const v = get();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('the migration worker did not start within a minute');
}

export function syncRows(r: SyncBenchResult): TableRow[] {
  const p = r.phases;
  const t = r.targets[0];
  const b = p.sync.breakdownMs;
  return [
    { metric: 'v1 leaves / stores', value: `${int(r.params.leaves)} / ${r.params.stores}` },
    { metric: 'blocks x changes', value: `${r.params.blocks} x ${int(r.params.blockChanges)}` },
    {
      metric: 'sync replay into SC + SS',
      value: `${r.syncBlocksPerSec.toFixed(1)} blocks/s`,
      target: `≥ ${t.target}`,
      pass: t.pass,
    },
    {
      metric: '  per block p50 / p99',
      value: `${p.sync.perBlock.p50.toFixed(1)} / ${p.sync.perBlock.p99.toFixed(1)} ms`,
    },
    { metric: 'migration on', value: `the ${r.params.thread} thread` },
    ...(b === null
      ? [{ metric: 'v1 layout', value: r.params.layout ?? 'legacy' }]
      : [
          {
            metric: 'v1 layout / SC versions copied from v1 / replayed',
            value: `${r.params.layout ?? 'legacy'} / ${p.sync.copied} / ${p.sync.replayed}`,
          },
          {
            metric: '  time in SC replay / SC copy / SS apply / buffer read / other',
            value: `${ms(b.scCommit)} / ${ms(b.scCopy)} / ${ms(b.ssApply)} / ${ms(b.bufferRead)} / ${ms(b.other)}`,
          },
        ]),
    {
      metric:
        r.params.thread === 'worker'
          ? 'RootStore commit on v1 (migration paused, buffering)'
          : 'RootStore commit on v1 (no migration)',
      value: `${r.commitBlocksPerSec.toFixed(2)} blocks/s`,
    },
    {
      metric: '  commit p50 / p99',
      value: `${p.commit.commitLatency.p50.toFixed(1)} / ${p.commit.commitLatency.p99.toFixed(1)} ms`,
    },
    {
      metric: `chain arrival (1 block / ${r.params.chainBlockSeconds} s)`,
      value: `${r.chainBlocksPerSec} blocks/s`,
    },
    {
      metric: 'headroom: sync ÷ chain / sync ÷ commit',
      value: `${r.headroomOverChain.toFixed(0)}x / ${r.headroomOverCommit.toFixed(1)}x`,
    },
    {
      metric: 'restore (migrate) before the sync',
      value: `${ms(p.restore.elapsedMs)}, ${int(p.restore.leavesPerSec)} leaves/s`,
    },
    { metric: 'SC app hash equals v1 at the last block', value: p.sync.appHashMatchesV1 ? 'yes' : 'NO' },
    {
      metric: 'load average commit / restore / sync',
      value: `${p.commit.loadAvg1m[0]} / ${p.restore.loadAvg1m[0]} / ${p.sync.loadAvg1m.join(' -> ')}`,
    },
    { metric: 'total', value: ms(r.totalMs) },
  ];
}

export const syncScenario: Scenario<SyncBenchResult> = {
  name: 'sync',
  description: 'replay rate of buffered changesets into SC and SS, against the block arrival rate',
  async run(opts): Promise<ScenarioOutput<SyncBenchResult>> {
    const result = await runSyncBench({
      leaves: opts.keys,
      seed: opts.seed,
      layout: opts.layout,
      blocks: opts.blocks,
      blockChanges: opts.blockChanges,
      thread: opts.thread,
      log: opts.log,
    });
    return scenarioOutput('sync benchmark', result, syncRows(result));
  },
};
