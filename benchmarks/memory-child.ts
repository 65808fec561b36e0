import { readFileSync } from 'node:fs';
import { type OpenDbOptions, openDb } from '../src/db/open-db.js';
import { toHex } from '../src/encoding/bytes.js';
import { MultiStoreV1 } from '../src/v1/multi-store-v1.js';
import { openV2 } from '../src/v2/home/open-v2-dir.js';
import { NODE_HOME_DB_OPTIONS } from '../src/v2/root/node-home.js';
import { RootStore, type RootStoreEvent } from '../src/v2/root/root-store.js';

/**
 * Child process of the `memory` scenario:
 *   node dist-bench/benchmarks/memory-child.js <v1 dir> <v2 dir> [worker|main]
 * migrates v1 at its latest height into a new v2 directory, sampling memory every 100 ms, and
 * prints one JSON document (MemoryChildReport) on stdout.
 * - `main`: exactly as `store-migrate migrate` does (MultiStoreV1 read-only, openV2,
 *   manager.migrate), on this thread.
 * - `worker` (the default): as a node that embeds RootStore with `worker: true` does (as
 *   `serve` does), committing an empty block every BLOCK_MS until the migration switches;
 *   the samples are of the whole process, the worker included.
 *
 * For experiments only: BENCH_LEVELDB='{"cacheSize":...,"writeBufferSize":...}' opens both
 * databases with those openDb options instead of the library's defaults. The `memory`
 * scenario never sets it.
 */

function experimentDbOptions(): OpenDbOptions | undefined {
  const raw = process.env.BENCH_LEVELDB;
  return raw === undefined || raw === '' ? undefined : (JSON.parse(raw) as OpenDbOptions);
}

export interface MemorySample {
  /** Milliseconds since the child started. */
  t: number;
  rss: number;
  /** V8 heap reserved (heapTotal) and in use. */
  heapTotal: number;
  heapUsed: number;
  /** Memory of Buffers and ArrayBuffers outside the V8 heap (included in rss). */
  external: number;
  arrayBuffers: number;
  /**
   * Linux /proc/self/status: anonymous memory (heap, malloc, LevelDB caches and memtables)
   * and file-backed pages (LevelDB maps its table files, so pages it reads count in rss).
   * 0 elsewhere.
   */
  rssAnon: number;
  rssFile: number;
}

export interface MemoryChildReport {
  /** process.resourceUsage().maxRSS in bytes: the kernel's high-water mark of the process. */
  maxRssBytes: number;
  /** The highest of each figure over the 100 ms samples. */
  peak: Omit<MemorySample, 't'>;
  /** The sample with the highest rss. */
  peakSample: MemorySample;
  /** RSS at milestones: after start-up, after opening v1 and v2, at the end of migrate(). */
  milestones: Record<string, number>;
  /** Samples every second (the full 100 ms series is not kept in the report). */
  timeline: MemorySample[];
  samples: number;
  leaves: number;
  nodes: number;
  durationMs: number;
  appHash: string;
  height: number;
  heapSizeLimit: number;
  /** BENCH_LEVELDB, when an experiment set it. */
  experimentDbOptions: OpenDbOptions | null;
  /** Where the migration ran: a worker thread under RootStore, or this thread. */
  thread: 'worker' | 'main';
}

function procStatus(): { rssAnon: number; rssFile: number } {
  try {
    const text = readFileSync('/proc/self/status', 'utf8');
    const kb = (name: string) =>
      Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
    return { rssAnon: kb('RssAnon'), rssFile: kb('RssFile') };
  } catch {
    return { rssAnon: 0, rssFile: 0 };
  }
}

function sample(t0: number): MemorySample {
  const m = process.memoryUsage();
  const p = procStatus();
  return {
    t: Math.round(performance.now() - t0),
    rss: m.rss,
    heapTotal: m.heapTotal,
    heapUsed: m.heapUsed,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    rssAnon: p.rssAnon,
    rssFile: p.rssFile,
  };
}

async function main(): Promise<void> {
  const [v1Path, v2Path, threadArg = 'worker'] = process.argv.slice(2);
  if (v1Path === undefined || v2Path === undefined || (threadArg !== 'worker' && threadArg !== 'main')) {
    throw new Error('usage: memory-child.js <v1 dir> <v2 dir> [worker|main]');
  }
  const thread: 'worker' | 'main' = threadArg;
  const t0 = performance.now();
  const peak = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0, rssAnon: 0, rssFile: 0 };
  let peakSample = sample(t0);
  const timeline: MemorySample[] = [];
  let samples = 0;
  let lastKept = Number.NEGATIVE_INFINITY;
  const take = (): MemorySample => {
    const s = sample(t0);
    samples++;
    peak.rss = Math.max(peak.rss, s.rss);
    peak.heapTotal = Math.max(peak.heapTotal, s.heapTotal);
    peak.heapUsed = Math.max(peak.heapUsed, s.heapUsed);
    peak.external = Math.max(peak.external, s.external);
    peak.arrayBuffers = Math.max(peak.arrayBuffers, s.arrayBuffers);
    peak.rssAnon = Math.max(peak.rssAnon, s.rssAnon);
    peak.rssFile = Math.max(peak.rssFile, s.rssFile);
    if (s.rss >= peakSample.rss) peakSample = s;
    if (s.t - lastKept >= 1000) {
      timeline.push(s);
      lastKept = s.t;
    }
    return s;
  };
  const timer = setInterval(take, 100);
  const milestones: Record<string, number> = { start: take().rss };

  const dbOptions = experimentDbOptions();
  const run = thread === 'main' ? migrateHere : migrateInWorker;
  let result: MigrationOutcome;
  try {
    result = await run({
      v1Path,
      v2Path,
      dbOptions,
      opened: () => {
        milestones.opened = take().rss;
      },
    });
    milestones.migrated = take().rss;
  } finally {
    clearInterval(timer);
  }
  take();
  const { heap_size_limit } = (await import('node:v8')).getHeapStatistics();
  const report: MemoryChildReport = {
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    peak,
    peakSample,
    milestones,
    timeline,
    samples,
    ...result,
    heapSizeLimit: heap_size_limit,
    experimentDbOptions: dbOptions ?? null,
    thread,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

interface MigrationOutcome {
  leaves: number;
  nodes: number;
  durationMs: number;
  appHash: string;
  height: number;
}

interface MigrationArgs {
  v1Path: string;
  v2Path: string;
  dbOptions: OpenDbOptions | undefined;
  /** Called once both databases are open. */
  opened: () => void;
}

/** As `store-migrate migrate`: manager.migrate(height) on this thread. */
async function migrateHere({ v1Path, v2Path, dbOptions, opened }: MigrationArgs): Promise<MigrationOutcome> {
  const v1Db = await openDb(v1Path, { ...dbOptions, createIfMissing: false });
  try {
    const v1 = await MultiStoreV1.open(v1Db, { readOnly: true });
    const height = v1.latestVersion;
    const parts = await openV2(v2Path, v1, { db: dbOptions });
    opened();
    try {
      const result = await parts.manager.migrate(height);
      return {
        leaves: result.leaves,
        nodes: result.nodes,
        durationMs: result.durationMs,
        appHash: result.appHash === undefined ? '' : toHex(result.appHash),
        height,
      };
    } finally {
      await parts.manager.close();
      await parts.db.close();
    }
  } finally {
    if (v1Db.status === 'open') await v1Db.close();
  }
}

// A node's block time, shortened: empty blocks keep the commit channel and the switch in play.
const BLOCK_MS = 500;

/**
 * As a node that embeds RootStore with the migration on a worker thread: empty blocks every
 * BLOCK_MS until it switches. The app hash reported is v2's at the height the restore started
 * from, the fixture's latest.
 */
async function migrateInWorker({
  v1Path,
  v2Path,
  dbOptions,
  opened,
}: MigrationArgs): Promise<MigrationOutcome> {
  // As a node home opens v1 and v2 (shared).
  const v1Db = await openDb(v1Path, { ...dbOptions, ...NODE_HOME_DB_OPTIONS.v1, createIfMissing: false });
  const v2Db = await openDb(v2Path, { ...dbOptions, ...NODE_HOME_DB_OPTIONS.v2 });
  const store = await RootStore.open(v1Db, v2Db, { worker: true });
  try {
    const height = store.latestVersion;
    opened();
    const t0 = performance.now();
    let restoredMs: number | undefined;
    let ended: RootStoreEvent | undefined;
    let restore = { leaves: 0, nodes: 0 };
    const sub = store.events$.subscribe((e) => {
      if (e.type === 'restored') restoredMs = performance.now() - t0;
      if (e.type === 'switched' || e.type === 'failed') ended = e;
    });
    sub.add(
      store.progress$.subscribe((p) => {
        if (p.phase === 'restoring')
          restore = { leaves: Math.max(p.leavesDone, p.leavesTotal), nodes: p.nodes };
      }),
    );
    try {
      while (ended === undefined) {
        await new Promise((r) => setTimeout(r, BLOCK_MS));
        await store.commit({ changes: [] });
      }
    } finally {
      sub.unsubscribe();
    }
    if (ended.type === 'failed') throw ended.error;
    const ci = await store.commitInfo(height);
    return {
      ...restore,
      durationMs: restoredMs ?? performance.now() - t0,
      appHash: toHex(ci.appHash),
      height,
    };
  } finally {
    await store.close();
    await v1Db.close();
    await v2Db.close();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
