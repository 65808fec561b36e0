import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gitInfo, load1m, type MachineInfo, machineInfo, type TargetCheck, target } from './lib/bench-env.js';
import { copyFixture, ensureFixture, type FixtureSpec } from './lib/fixture.js';
import { int, mib, ms, perSec, type TableRow } from './lib/format.js';
import { TempDirs } from './lib/fs-util.js';
import type { GitInfo } from './lib/git.js';
import { type Scenario, type ScenarioOutput, scenarioOutput } from './lib/scenario.js';
import type { MemoryChildReport } from './memory-child.js';

const MiB = 1024 * 1024;

export const MEMORY_TARGETS = {
  /** Peak RSS of a migration, at every size (read as MiB). */
  peakRssBytes: 350 * MiB,
  /** Peak RSS at 4x the leaves over peak RSS at 1x. */
  growth: 1.15,
} as const;

export interface MemoryBenchOptions {
  /** Leaves of the smaller run; the larger one has 4 times as many. Default 1,000,000. */
  leaves?: number;
  stores?: number;
  seed?: number;
  /** Where the migration runs: a worker thread under RootStore (default, as `serve`), or `main` as `migrate`. */
  thread?: 'worker' | 'main';
  log?: (line: string) => void;
}

export interface MemoryRun {
  leaves: number;
  fixture: { key: string; fromCache: boolean; generateMs: number; copyMs: number; appHash: string };
  /** The child's wall time, start-up included. */
  wallMs: number;
  loadAvg1m: [number, number];
  leavesPerSec: number;
  appHashMatchesV1: boolean;
  child: MemoryChildReport;
}

export interface MemoryBenchResult {
  scenario: 'memory';
  date: string;
  machine: MachineInfo;
  git: GitInfo;
  params: Omit<FixtureSpec, 'leaves'> & {
    leaves: number[];
    child: string;
    sampleEveryMs: 100;
    thread: 'worker' | 'main';
  };
  runs: MemoryRun[];
  summary: {
    /** maxRSS of each run, bytes, in the order of `runs`. */
    peakRssBytes: number[];
    /** Peak RSS of the larger run over the smaller one's. */
    growth: number;
    /** Peak anonymous RSS (no file-backed pages: LevelDB maps the table files it reads), bytes. */
    peakRssAnonBytes: number[];
    growthAnon: number;
  };
  targets: TargetCheck[];
  pass: boolean;
  totalMs: number;
}

const CHILD = fileURLToPath(new URL('./memory-child.js', import.meta.url));

/** Extra node flags for the child (e.g. `--heap-prof`), from BENCH_CHILD_NODE_ARGS, space-separated. */
function childNodeArgs(): string[] {
  return (process.env.BENCH_CHILD_NODE_ARGS ?? '').split(/\s+/).filter((a) => a !== '');
}

function runChild(v1Path: string, v2Path: string, thread: 'worker' | 'main'): Promise<MemoryChildReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...childNodeArgs(), CHILD, v1Path, v2Path, thread], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      out += d;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code !== 0) {
        reject(new Error(`memory child failed (exit ${code ?? signal})`));
        return;
      }
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as MemoryChildReport);
      } catch (err) {
        reject(new Error(`memory child printed no report: ${String(err)}`));
      }
    });
  });
}

/**
 * Peak memory of a migration, each in a fresh child process (`node memory-child.js`, no
 * flags), at `leaves` and at 4 × `leaves`. The child reports the kernel's maxRSS and the
 * 100 ms samples of process.memoryUsage() and /proc/self/status: the whole process, so a
 * worker thread's heap counts too.
 */
export async function runMemoryBench(options: MemoryBenchOptions = {}): Promise<MemoryBenchResult> {
  const small = options.leaves ?? 1_000_000;
  const sizes = [small, small * 4];
  const stores = options.stores ?? 10;
  const seed = options.seed ?? 1;
  const log = options.log ?? (() => {});
  const thread = options.thread ?? 'worker';
  const started = performance.now();
  const loadStart = load1m();
  const runs: MemoryRun[] = [];
  for (const leaves of sizes) {
    const temp = new TempDirs();
    try {
      const fixture = await ensureFixture({ leaves, stores, versions: 2, seed }, log);
      const work = await temp.make(`memory-${leaves}`);
      const v1Path = join(work, 'application.db');
      const copyMs = await copyFixture(fixture, v1Path);
      log(`migrating ${int(leaves)} leaves in a child process (migration on the ${thread} thread)`);
      const load0 = load1m();
      const t = performance.now();
      const child = await runChild(v1Path, join(work, 'v2'), thread);
      const wallMs = performance.now() - t;
      const run: MemoryRun = {
        leaves: child.leaves,
        fixture: {
          key: fixture.key,
          fromCache: !fixture.generated,
          generateMs: fixture.meta.generateMs,
          copyMs,
          appHash: fixture.meta.appHash,
        },
        wallMs,
        loadAvg1m: [load0, load1m()],
        leavesPerSec: perSec(child.leaves, child.durationMs),
        appHashMatchesV1: child.appHash === fixture.meta.appHash,
        child,
      };
      if (!run.appHashMatchesV1) {
        throw new Error(`migrated app hash ${child.appHash} is not the fixture's ${fixture.meta.appHash}`);
      }
      log(
        `${int(leaves)} leaves: maxRSS ${mib(child.maxRssBytes)}, sampled peak ${mib(child.peak.rss)}, ` +
          `${int(run.leavesPerSec)} leaves/s`,
      );
      runs.push(run);
    } finally {
      await temp.removeAll();
    }
  }
  const peaks = runs.map((r) => r.child.maxRssBytes);
  const growth = peaks[1] / peaks[0];
  const targets = [
    ...runs.map((r) =>
      target(
        `peak RSS at ${int(r.leaves)} leaves (bytes)`,
        r.child.maxRssBytes,
        MEMORY_TARGETS.peakRssBytes,
        'lower',
      ),
    ),
    target('peak RSS growth, 4x leaves', growth, MEMORY_TARGETS.growth, 'lower'),
    // The same targets on anonymous memory: RSS also counts LevelDB's memory-mapped table
    // files, page cache that grows with the database and that the kernel reclaims at will.
    ...runs.map((r) =>
      target(
        `peak RssAnon at ${int(r.leaves)} leaves (bytes)`,
        r.child.peak.rssAnon,
        MEMORY_TARGETS.peakRssBytes,
        'lower',
      ),
    ),
    target(
      'peak RssAnon growth, 4x leaves',
      runs[1].child.peak.rssAnon / runs[0].child.peak.rssAnon,
      MEMORY_TARGETS.growth,
      'lower',
    ),
  ];
  return {
    scenario: 'memory',
    date: new Date().toISOString(),
    machine: machineInfo(loadStart),
    git: gitInfo(),
    params: {
      leaves: sizes,
      stores,
      versions: 2,
      seed,
      child: 'dist-bench/benchmarks/memory-child.js',
      sampleEveryMs: 100,
      thread,
    },
    runs,
    summary: {
      peakRssBytes: peaks,
      growth,
      peakRssAnonBytes: runs.map((r) => r.child.peak.rssAnon),
      growthAnon: runs[1].child.peak.rssAnon / runs[0].child.peak.rssAnon,
    },
    targets,
    pass: targets.every((x) => x.pass),
    totalMs: performance.now() - started,
  };
}

export function memoryRows(r: MemoryBenchResult): TableRow[] {
  const rows: TableRow[] = [
    {
      metric: 'migration on',
      value:
        r.params.thread === 'worker'
          ? 'a worker thread (RootStore worker: true, an empty block every 500 ms until the switch)'
          : 'the main thread (manager.migrate, as store-migrate migrate)',
    },
  ];
  r.runs.forEach((run, i) => {
    const c = run.child;
    const t = r.targets[i];
    rows.push(
      {
        metric: `${int(run.leaves)} leaves: peak RSS (maxRSS)`,
        value: mib(c.maxRssBytes),
        target: `≤ ${mib(t.target)}`,
        pass: t.pass,
      },
      {
        metric: '  sampled peak rss / heapTotal / heapUsed / external',
        value: `${mib(c.peak.rss)} / ${mib(c.peak.heapTotal)} / ${mib(c.peak.heapUsed)} / ${mib(c.peak.external)}`,
      },
      {
        metric: '  sampled peak RssAnon (anonymous memory)',
        value: mib(c.peak.rssAnon),
        target: `≤ ${mib(t.target)}`,
        pass: c.peak.rssAnon <= t.target,
      },
      { metric: '  sampled peak RssFile (mapped LevelDB tables)', value: mib(c.peak.rssFile) },
      {
        metric: '  rss at start / opened / migrated',
        value: `${mib(c.milestones.start)} / ${mib(c.milestones.opened)} / ${mib(c.milestones.migrated)}`,
      },
      {
        metric: r.params.thread === 'worker' ? '  restore time, rate' : '  migrate time, rate',
        value: `${ms(c.durationMs)}, ${int(run.leavesPerSec)} leaves/s`,
      },
      { metric: '  load average', value: run.loadAvg1m.join(' -> ') },
    );
  });
  const g = r.targets.find((x) => x.name === 'peak RSS growth, 4x leaves')!;
  const ga = r.targets.find((x) => x.name === 'peak RssAnon growth, 4x leaves')!;
  rows.push({
    metric: 'peak RSS growth, 4x leaves',
    value: `${r.summary.growth.toFixed(3)}x`,
    target: `≤ ${g.target}x`,
    pass: g.pass,
  });
  rows.push({
    metric: 'peak RssAnon growth, 4x leaves',
    value: `${r.summary.growthAnon.toFixed(3)}x`,
    target: `≤ ${ga.target}x`,
    pass: ga.pass,
  });
  rows.push({ metric: 'total', value: ms(r.totalMs) });
  return rows;
}

export const memoryScenario: Scenario<MemoryBenchResult> = {
  name: 'memory',
  description: 'peak RSS of a migration in a child process, at N and 4N leaves',
  async run(opts): Promise<ScenarioOutput<MemoryBenchResult>> {
    const result = await runMemoryBench({
      leaves: opts.keys,
      seed: opts.seed,
      thread: opts.thread,
      log: opts.log,
    });
    return scenarioOutput('memory benchmark', result, memoryRows(result));
  },
};
