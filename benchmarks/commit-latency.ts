import { join } from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { openDb } from '../src/db/open-db.js';
import { type LatencySummary, summarizeLatencies } from '../src/demo/latency-stats.js';
import { toHex } from '../src/encoding/bytes.js';
import { decodeChangeset } from '../src/encoding/changeset.js';
import { NODE_HOME_DB_OPTIONS } from '../src/v2/root/node-home.js';
import { RootStore } from '../src/v2/root/root-store.js';
import {
  gitInfo,
  load1m,
  type MachineInfo,
  machineInfo,
  PhaseClock,
  type PhaseTiming,
  sleep,
  type TargetCheck,
  target,
} from './lib/bench-env.js';
import { blocksFor } from './lib/blocks.js';
import { copyFixture, ensureFixture, type FixtureSpec } from './lib/fixture.js';
import { int, ms, type TableRow } from './lib/format.js';
import { TempDirs } from './lib/fs-util.js';
import type { GitInfo } from './lib/git.js';
import { countIo, diffCounts, type IoCounts, zeroCounts } from './lib/io-counters.js';
import { type Scenario, type ScenarioOutput, scenarioOutput } from './lib/scenario.js';

export const COMMIT_LATENCY_TARGETS = {
  /** p99 commit latency during a migration over p99 without one. */
  p99Ratio: 1.2,
  /** p50 during over p50 without. */
  p50Ratio: 1.1,
  /** Without a migration: p99 over p50 (the commit path's own tail). */
  tailWithout: 2,
} as const;

export interface CommitLatencyBenchOptions {
  leaves?: number;
  stores?: number;
  seed?: number;
  /** Tree layout of the v1 fixture: legacy (cosmos-sdk ≤ v0.47, the default) or node-key (v0.50+). */
  layout?: 'legacy' | 'node-key';
  /** Blocks committed in each run. Default 1,000. */
  blocks?: number;
  /** Where the migration runs: a worker thread (default) or the node's thread. */
  thread?: 'worker' | 'main';
  /** RootStore's changesetJournal (worker only; default false). */
  journal?: boolean;
  /** RootStore's workerNice (worker only, Linux; default 0). */
  workerNice?: number;
  /** Changes per block. Default 1,000. */
  blockChanges?: number;
  /** Time from one block's start to the next one's; 0 commits back to back. Default 0. */
  intervalMs?: number;
  log?: (line: string) => void;
}

/** Where the migration was when a block's commit ended. */
export type BlockStage = 'none' | 'restore' | 'sync' | 'v2';

export interface BlockTiming {
  version: number;
  /** RootStore.commits$ durationMs: the commit itself, inside the commit chain. */
  durationMs: number;
  /** Wall time of `await store.commit(cs)`. */
  wallMs: number;
  stage: BlockStage;
  appHash: string;
  /** The last version the migration had made in v2 when the block committed (0: none yet). */
  migratedVersion: number;
  /** Start of the commit, performance.now() milliseconds. */
  at: number;
  /** LevelDB calls of the v1 and v2 databases while the block committed (the migration's included). */
  v1: IoCounts;
  v2: IoCounts;
  /** Garbage collection pauses that started while the block committed, ms. */
  gcMs: number;
  /** While migrating: ms from the commit's start until its changeset was durable (commits$ bufferedMs). */
  bufferedMs: number;
  /** Longest event-loop delay seen while the block committed (10 ms resolution), ms. */
  loopDelayMaxMs: number;
}

/** Mean per block of where a commit's time may go. */
export interface BlockBreakdown {
  blocks: number;
  durationMs: number;
  /** v1 point reads (node cache misses) and their time on the main thread. */
  v1Reads: number;
  v1ReadMs: number;
  /** Time from v1 batch calls to their completion (the commit's write, with any stall). */
  v1BatchMs: number;
  v2BatchOps: number;
  /** Time until the migration had the changeset durable (v1 writes the block only then). */
  bufferedMs: number;
  gcMs: number;
  loopDelayMaxMs: number;
}

export interface LatencyRun extends PhaseTiming {
  blocks: BlockTiming[];
  latency: LatencySummary;
  /** Means over all blocks and over the 10 slowest. */
  breakdown: { all: BlockBreakdown; slowest10: BlockBreakdown };
}

function meanBreakdown(blocks: BlockTiming[]): BlockBreakdown {
  const n = Math.max(1, blocks.length);
  const sum = (f: (b: BlockTiming) => number) =>
    Math.round((100 * blocks.reduce((a, b) => a + f(b), 0)) / n) / 100;
  return {
    blocks: blocks.length,
    durationMs: sum((b) => b.durationMs),
    v1Reads: sum((b) => b.v1.getSync),
    v1ReadMs: sum((b) => b.v1.getSyncMs),
    v1BatchMs: sum((b) => b.v1.batchMs),
    v2BatchOps: sum((b) => b.v2.batchOps),
    bufferedMs: sum((b) => b.bufferedMs),
    gcMs: sum((b) => b.gcMs),
    loopDelayMaxMs: sum((b) => b.loopDelayMaxMs),
  };
}

function breakdown(blocks: BlockTiming[]): LatencyRun['breakdown'] {
  const slowest = [...blocks].sort((a, b) => b.durationMs - a.durationMs).slice(0, 10);
  return { all: meanBreakdown(blocks), slowest10: meanBreakdown(slowest) };
}

export interface CommitLatencyBenchResult {
  scenario: 'commit-latency';
  date: string;
  machine: MachineInfo;
  git: GitInfo;
  params: FixtureSpec & {
    blocks: number;
    blockChanges: number;
    intervalMs: number;
    throttle: null;
    thread: 'worker' | 'main';
    journal: boolean;
    workerNice: number;
  };
  fixture: { key: string; fromCache: boolean; version: number; appHash: string };
  runs: {
    /** RootStore.open(..., { migrate: false }): no migration. */
    without: LatencyRun;
    /** The same blocks right after startMigration() on a fresh copy of the same v1. */
    during: LatencyRun & {
      /** Blocks committed while the migration ran (restore or sync), and by stage. */
      migrating: LatencySummary;
      restore: LatencySummary;
      sync: LatencySummary;
      /** Blocks committed on v2 after the switch (not part of the comparison). */
      afterSwitch: LatencySummary;
      /** Milliseconds from startMigration() to the end of the restore and to the switch. */
      restoredAfterMs: number | null;
      switchedAfterMs: number | null;
      switchedAtVersion: number | null;
    };
  };
  /** Every block has the same app hash in both runs. */
  appHashesMatch: boolean;
  p50Ratio: number;
  p99Ratio: number;
  /** Without a migration, p99 ÷ p50. */
  tailWithout: number;
  /** The migration switched before the last block. */
  switchedBeforeLast: boolean;
  targets: TargetCheck[];
  pass: boolean;
  totalMs: number;
  marks: Record<string, [number, number]>;
}

interface RunContext {
  /** Encoded (makeBlocks), decoded one at a time outside the timing. */
  blocks: Uint8Array[];
  intervalMs: number;
  log: (line: string) => void;
}

interface OpenedStore {
  store: RootStore;
  io: { v1: IoCounts; v2: IoCounts };
}

/** GC pauses (start, duration in ms) while observed. */
class GcLog {
  readonly entries: Array<[number, number]> = [];
  readonly #observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) this.entries.push([e.startTime, e.duration]);
  });

  constructor() {
    this.#observer.observe({ entryTypes: ['gc'] });
  }

  /** Flushes pending entries and stops observing. */
  stop(): void {
    for (const e of this.#observer.takeRecords()) this.entries.push([e.startTime, e.duration]);
    this.#observer.disconnect();
  }
}

/** Adds each GC pause to the block it started in. */
function attributeGc(blocks: BlockTiming[], gc: GcLog): void {
  for (const [start, duration] of gc.entries) {
    const b = blocks.find((x) => start >= x.at && start < x.at + x.wallMs);
    if (b !== undefined) b.gcMs += duration;
  }
}

async function commitBlocks(
  { store, io }: OpenedStore,
  ctx: RunContext,
  stageOf: () => BlockStage,
): Promise<BlockTiming[]> {
  const out: BlockTiming[] = [];
  const gc = new GcLog();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  let lastDuration = 0;
  let lastMode = 'v1' as 'v1' | 'v2';
  let lastBuffered = 0;
  const sub = store.commits$.subscribe((c) => {
    lastDuration = c.durationMs;
    lastMode = c.mode;
    lastBuffered = c.bufferedMs ?? 0;
  });
  try {
    let lastStart = Number.NEGATIVE_INFINITY;
    for (const [i, encoded] of ctx.blocks.entries()) {
      const cs = decodeChangeset(encoded);
      const wait = lastStart + ctx.intervalMs - performance.now();
      if (wait > 0) await sleep(wait);
      const v1Before = { ...io.v1 };
      const v2Before = { ...io.v2 };
      loop.reset();
      lastStart = performance.now();
      const ci = await store.commit(cs);
      const wallMs = performance.now() - lastStart;
      out.push({
        loopDelayMaxMs: loop.count > 0 ? loop.max / 1e6 : 0,
        at: lastStart,
        v1: diffCounts(io.v1, v1Before),
        v2: diffCounts(io.v2, v2Before),
        gcMs: 0,
        bufferedMs: lastBuffered,
        version: ci.version,
        durationMs: lastDuration,
        wallMs,
        stage: lastMode === 'v2' ? 'v2' : stageOf(),
        appHash: toHex(ci.appHash),
        migratedVersion: store.status().migratedVersion,
      });
      if ((i + 1) % 50 === 0) {
        const m = out[i].migratedVersion;
        ctx.log(
          `  ${i + 1} blocks, last ${ms(lastDuration)} (${out[i].stage}${m > 0 ? `, v2 at ${m} of ${ci.version}` : ''})`,
        );
      }
    }
  } finally {
    sub.unsubscribe();
    gc.stop();
    loop.disable();
  }
  attributeGc(out, gc);
  return out;
}

async function openStore(
  dir: string,
  temp: TempDirs,
  worker: boolean,
  journal = false,
  workerNice = 0,
): Promise<OpenedStore> {
  const io = { v1: zeroCounts(), v2: zeroCounts() };
  const v1 = temp.track(
    // As a node home opens v1 and v2 (shared).
    countIo(
      await openDb(join(dir, 'application.db'), { ...NODE_HOME_DB_OPTIONS.v1, createIfMissing: false }),
      io.v1,
    ),
  );
  const v2 = temp.track(countIo(await openDb(join(dir, 'v2'), NODE_HOME_DB_OPTIONS.v2), io.v2));
  // With a worker, v2's calls happen on the worker's own handle and are not counted here.
  const store = await RootStore.open(v1, v2, {
    migrate: false,
    worker,
    changesetJournal: journal,
    workerNice,
  });
  return { store, io };
}

/**
 * RootStore commit latency for the same blocks without a migration and during one, each on
 * its own fresh copy of the same v1, one after the other in one process.
 */
export async function runCommitLatencyBench(
  options: CommitLatencyBenchOptions = {},
): Promise<CommitLatencyBenchResult> {
  const spec: FixtureSpec = {
    leaves: options.leaves ?? 500_000,
    stores: options.stores ?? 10,
    versions: 2,
    seed: options.seed ?? 1,
    ...(options.layout === 'node-key' ? { layout: 'node-key' as const } : {}),
  };
  const blockCount = options.blocks ?? 1_000;
  const thread = options.thread ?? 'worker';
  const journal = options.journal ?? false;
  const workerNice = options.workerNice ?? 0;
  const blockChanges = options.blockChanges ?? 1_000;
  const intervalMs = options.intervalMs ?? 0;
  const log = options.log ?? (() => {});
  const started = performance.now();
  const loadStart = load1m();
  const clock = new PhaseClock();
  const temp = new TempDirs();
  try {
    const fixture = await ensureFixture(spec, log);
    const dirA = await temp.make('latency-without');
    const dirB = await temp.make('latency-during');
    await copyFixture(fixture, join(dirA, 'application.db'));
    await copyFixture(fixture, join(dirB, 'application.db'));
    const blocks = await blocksFor(join(dirA, 'application.db'), spec.seed + 1, blockCount, blockChanges);
    const ctx: RunContext = { blocks, intervalMs, log };

    // --- without a migration -------------------------------------------------------------
    log(`without a migration: ${blockCount} blocks of ${int(blockChanges)} changes`);
    const a = await clock.time('without', async () => {
      const handle = await openStore(dirA, temp, thread === 'worker');
      try {
        return await commitBlocks(handle, ctx, () => 'none');
      } finally {
        await handle.store.close();
      }
    });
    const without: LatencyRun = {
      ...a.timing,
      blocks: a.value,
      latency: summarizeLatencies(a.value.map((b) => b.durationMs)),
      breakdown: breakdown(a.value),
    };
    log(`without: p50 ${without.latency.p50} ms, p99 ${without.latency.p99} ms`);
    await temp.closeDbs();

    // --- during a migration --------------------------------------------------------------
    log(
      `during a migration (on the ${thread} thread): the same ${blockCount} blocks right after startMigration()`,
    );
    let restoredAfterMs: number | null = null;
    let switchedAfterMs: number | null = null;
    let failure: unknown;
    let migrationStart = 0;
    const b = await clock.time('during', async () => {
      const handle = await openStore(dirB, temp, thread === 'worker', journal, workerNice);
      const store = handle.store;
      const sub = store.events$.subscribe((e) => {
        const t = Math.round(performance.now() - migrationStart);
        if (e.type === 'restored') {
          restoredAfterMs = t;
          log(`  restore done after ${ms(t)}`);
        } else if (e.type === 'switched') {
          switchedAfterMs = t;
          log(`  switched to v2 after ${ms(t)} (height ${e.version})`);
        } else if (e.type === 'failed') {
          failure = e.error;
        }
      });
      const stageOf = (): BlockStage => {
        // A failed migration would leave every later block "in the restore": stop instead.
        if (failure !== undefined) throw failure;
        if (store.switchedAtVersion !== undefined) return 'v2';
        return restoredAfterMs === null ? 'restore' : 'sync';
      };
      try {
        migrationStart = performance.now();
        store.startMigration();
        const timings = await commitBlocks(handle, ctx, stageOf);
        return { timings, switchedAtVersion: store.switchedAtVersion ?? null };
      } finally {
        await store.close();
        sub.unsubscribe();
      }
    });
    if (failure !== undefined) throw failure;
    const bt = b.value.timings;
    const summaryOf = (stages: BlockStage[]) =>
      summarizeLatencies(bt.filter((x) => stages.includes(x.stage)).map((x) => x.durationMs));
    const during = {
      ...b.timing,
      blocks: bt,
      latency: summarizeLatencies(bt.map((x) => x.durationMs)),
      breakdown: breakdown(bt),
      migrating: summaryOf(['restore', 'sync']),
      restore: summaryOf(['restore']),
      sync: summaryOf(['sync']),
      afterSwitch: summaryOf(['v2']),
      restoredAfterMs,
      switchedAfterMs,
      switchedAtVersion: b.value.switchedAtVersion,
    };
    log(
      `during: p50 ${during.migrating.p50} ms, p99 ${during.migrating.p99} ms over ${during.migrating.count} ` +
        `blocks while migrating (${during.restore.count} in the restore)`,
    );
    await temp.closeDbs();

    const appHashesMatch = without.blocks.every((x, i) => x.appHash === bt[i]?.appHash);
    if (!appHashesMatch) throw new Error('the two runs committed different app hashes for the same blocks');
    const p50Ratio = without.latency.p50 > 0 ? during.migrating.p50 / without.latency.p50 : 0;
    const p99Ratio = without.latency.p99 > 0 ? during.migrating.p99 / without.latency.p99 : 0;
    const tailWithout = without.latency.p50 > 0 ? without.latency.p99 / without.latency.p50 : 0;
    const lastVersion = bt.at(-1)?.version ?? 0;
    const switchedBeforeLast = during.switchedAtVersion !== null && during.switchedAtVersion < lastVersion;
    const targets = [
      target('p99 during ÷ p99 without', p99Ratio, COMMIT_LATENCY_TARGETS.p99Ratio, 'lower'),
      target('p50 during ÷ p50 without', p50Ratio, COMMIT_LATENCY_TARGETS.p50Ratio, 'lower'),
      target('without: p99 ÷ p50', tailWithout, COMMIT_LATENCY_TARGETS.tailWithout, 'lower'),
      target('switched before the last block (1 = yes)', switchedBeforeLast ? 1 : 0, 1, 'higher'),
    ];
    return {
      scenario: 'commit-latency',
      date: new Date().toISOString(),
      machine: machineInfo(loadStart),
      git: gitInfo(),
      params: {
        ...spec,
        blocks: blockCount,
        blockChanges,
        intervalMs,
        throttle: null,
        thread,
        journal,
        workerNice,
      },
      fixture: {
        key: fixture.key,
        fromCache: !fixture.generated,
        version: fixture.meta.latestVersion,
        appHash: fixture.meta.appHash,
      },
      runs: { without, during },
      appHashesMatch,
      p50Ratio,
      p99Ratio,
      tailWithout,
      switchedBeforeLast,
      targets,
      pass: targets.every((x) => x.pass),
      totalMs: performance.now() - started,
      marks: clock.marks,
    };
  } finally {
    await temp.removeAll();
  }
}

export function commitLatencyRows(r: CommitLatencyBenchResult): TableRow[] {
  const { without, during } = r.runs;
  const [t99, t50, tTail] = r.targets;
  const fmt = (s: LatencySummary) =>
    `${s.p50.toFixed(1)} / ${s.p99.toFixed(1)} / ${s.max.toFixed(1)} ms (${s.count})`;
  return [
    { metric: 'v1 leaves / stores', value: `${int(r.params.leaves)} / ${r.params.stores}` },
    {
      metric: 'blocks x changes, interval',
      value: `${r.params.blocks} x ${int(r.params.blockChanges)}, ${r.params.intervalMs === 0 ? 'back to back' : ms(r.params.intervalMs)}`,
    },
    { metric: 'without migration: p50 / p99 / max (n)', value: fmt(without.latency) },
    { metric: 'during migration: p50 / p99 / max (n)', value: fmt(during.migrating) },
    { metric: '  of which during the restore', value: fmt(during.restore) },
    { metric: '  of which during the sync', value: fmt(during.sync) },
    { metric: '  after the switch (v2, not compared)', value: fmt(during.afterSwitch) },
    {
      metric: 'migration on',
      value: `the ${r.params.thread} thread${r.params.journal ? ', changeset journal on' : ''}${r.params.workerNice ? `, nice ${r.params.workerNice}` : ''}`,
    },
    {
      metric: 'p50 ratio during ÷ without',
      value: `${r.p50Ratio.toFixed(2)}x`,
      target: `≤ ${t50.target}x`,
      pass: t50.pass,
    },
    {
      metric: 'p99 ratio during ÷ without',
      value: `${r.p99Ratio.toFixed(2)}x`,
      target: `≤ ${t99.target}x`,
      pass: t99.pass,
    },
    {
      metric: 'without: p99 ÷ p50',
      value: `${r.tailWithout.toFixed(2)}x`,
      target: `≤ ${tTail.target}x`,
      pass: tTail.pass,
    },
    {
      metric: 'switched before the last block',
      value: r.switchedBeforeLast ? `yes (at ${r.runs.during.switchedAtVersion})` : 'no',
      target: 'yes',
      pass: r.switchedBeforeLast,
    },
    {
      metric: 'restore done / switched after',
      value: `${during.restoredAfterMs === null ? 'not done' : ms(during.restoredAfterMs)} / ${during.switchedAfterMs === null ? 'not switched' : ms(during.switchedAfterMs)}`,
    },
    ...(['without', 'during'] as const).flatMap((k) => {
      const { all, slowest10 } = r.runs[k].breakdown;
      const f = (x: BlockBreakdown) =>
        `${x.durationMs.toFixed(0)} ms: reads ${int(x.v1Reads)} (${x.v1ReadMs.toFixed(0)} ms), ` +
        `v1 write ${x.v1BatchMs.toFixed(0)} ms, changeset durable after ${x.bufferedMs.toFixed(0)} ms, gc ${x.gcMs.toFixed(0)} ms, loop delay max ${x.loopDelayMaxMs.toFixed(0)} ms`;
      return [
        { metric: `${k}: mean block`, value: f(all) },
        { metric: `${k}: mean of the 10 slowest`, value: f(slowest10) },
      ];
    }),
    { metric: 'same app hashes in both runs', value: r.appHashesMatch ? 'yes' : 'NO' },
    { metric: 'elapsed without / during', value: `${ms(without.elapsedMs)} / ${ms(during.elapsedMs)}` },
    {
      metric: 'cores busy without / during (process CPU ÷ wall)',
      value: `${without.cores.toFixed(2)} / ${during.cores.toFixed(2)} of ${r.machine.cores}`,
    },
    {
      metric: 'load average without / during',
      value: `${without.loadAvg1m.join(' -> ')} / ${during.loadAvg1m.join(' -> ')}`,
    },
    { metric: 'total', value: ms(r.totalMs) },
  ];
}

export const commitLatencyScenario: Scenario<CommitLatencyBenchResult> = {
  name: 'commit-latency',
  description: 'RootStore commit p50/p99 without a migration and during one',
  async run(opts): Promise<ScenarioOutput<CommitLatencyBenchResult>> {
    const result = await runCommitLatencyBench({
      leaves: opts.keys,
      seed: opts.seed,
      layout: opts.layout,
      blocks: opts.blocks,
      blockChanges: opts.blockChanges,
      intervalMs: opts.intervalMs,
      thread: opts.thread,
      journal: opts.journal,
      workerNice: opts.workerNice,
      log: opts.log,
    });
    return scenarioOutput('commit-latency benchmark', result, commitLatencyRows(result));
  },
};
