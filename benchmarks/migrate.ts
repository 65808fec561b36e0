import { join } from 'node:path';
import type { LevelDatabase } from '../src/db/kv-db.js';
import { openDb } from '../src/db/open-db.js';
import { toHex, utf8 } from '../src/encoding/bytes.js';
import type { ExportNode, ImmutableTree } from '../src/iavl/immutable-tree.js';
import { Importer } from '../src/iavl/importer.js';
import { MutableTree } from '../src/iavl/mutable-tree.js';
import { storePrefix } from '../src/multistore/commit-store.js';
import { MultiStoreV1 } from '../src/v1/multi-store-v1.js';
import { openV2 } from '../src/v2/home/open-v2-dir.js';
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
import { approximatePartSizes, V2_PARTS } from './lib/db-parts.js';
import { copyFixture, ensureFixture, type FixtureSpec } from './lib/fixture.js';
import { int, mib, ms, perSec, type TableRow } from './lib/format.js';
import { type DirSize, dirSize, TempDirs } from './lib/fs-util.js';
import type { GitInfo } from './lib/git.js';
import { type GoSkipped, gorefBench, runGorefBench } from './lib/goref.js';
import { type Scenario, type ScenarioOutput, scenarioOutput } from './lib/scenario.js';

export const MIGRATE_TARGETS = { ratio: 0.35, stretchRatio: 0.5 } as const;

/** Bytes per chained batch of the raw copy: the size the migration's restore batches default to. */
const RAW_BATCH_BYTES = 4 * 1024 * 1024;

export interface MigrateBenchOptions {
  leaves?: number;
  stores?: number;
  seed?: number;
  /** Tree layout of the v1 fixture. Default legacy. */
  layout?: 'legacy' | 'node-key';
  log?: (line: string) => void;
}

export interface MigrateBenchResult {
  scenario: 'migrate';
  date: string;
  machine: MachineInfo;
  git: GitInfo;
  params: FixtureSpec & { rawBatchBytes: number; v1: 'MultiStoreV1.open(db, { readOnly: true })' };
  fixture: {
    key: string;
    fromCache: boolean;
    /** Generation time (in its own process, possibly an earlier run). */
    generateMs: number;
    copyMs: number;
    version: number;
    appHash: string;
    db: DirSize;
  };
  /** Leaves of every store at the migrated height. */
  leaves: number;
  rawCopyLeavesPerSec: number;
  migrateLeavesPerSec: number;
  /** migrateLeavesPerSec ÷ rawCopyLeavesPerSec. */
  ratio: number;
  /** The same against the export-walk copy (no hash checks, no node cache). */
  rawExportLeavesPerSec: number;
  ratioVsRawExport: number;
  phases: {
    /** The baseline: ImmutableTree.iterate() (node cache, hash check on every read). */
    rawCopy: RawCopy;
    /** A stricter baseline: the export walk the migration itself uses, export({ verify: false }). */
    rawExport: RawCopy;
    migrate: PhaseTiming & {
      leaves: number;
      nodes: number;
      /** MigrateResult.durationMs: the figure the rate is computed from. */
      durationMs: number;
      leavesPerSec: number;
      /** Opening the v2 directory (openV2) before migrate(). */
      openMs: number;
      appHash: string;
      appHashMatchesV1: boolean;
      db: DirSize;
      /** LevelDB's approximateSize per key range of the v2 directory. */
      parts: Record<string, number>;
    };
  };
  /**
   * The state-commitment half of a migration, as cosmos-sdk's store/v2 migration does it: every
   * store exported and imported into a node-key tree. `ts` is ours (exportChunks into Importer),
   * `go` is iavl v1.2 (`goref bench migrate`), on the same v1 copy in the same run.
   */
  exportImport: {
    ts: PhaseTiming & { leaves: number; nodes: number; leavesPerSec: number };
    go: GoMigrateResult | GoSkipped;
    /** TS ÷ Go leaves/s for that same work, and for our whole migration (SC + SS) against it. */
    vsGo?: { exportImport: number; migrate: number };
  };
  targets: TargetCheck[];
  pass: boolean;
  /**
   * With `--layout node-key`: the legacy fixture's run, measured first in the same process, and
   * node-key ÷ legacy leaves/s (the node-key export reads nodes in key order, version by version).
   */
  comparedWithLegacy?: {
    migrateLeavesPerSec: number;
    rawCopyLeavesPerSec: number;
    exportImportLeavesPerSec: number;
    goExportImportLeavesPerSec?: number;
    nodeKeyOverLegacy: number;
  };
  /** process.resourceUsage().maxRSS of the whole run, bytes. */
  maxRssBytes: number;
  totalMs: number;
  marks: Record<string, [number, number]>;
}

/** What `goref bench migrate` prints. */
export interface GoMigrateResult {
  modules: Record<string, string>;
  height: number;
  stores: number;
  leaves: number;
  nodes: number;
  elapsedMs: number;
  leavesPerSec: number;
  rootsMatch: boolean;
}

type RawCopy = PhaseTiming & {
  leaves: number;
  leavesPerSec: number;
  batches: number;
  /** Keys (with a `<store>/` prefix) plus values written. */
  logicalBytes: number;
  db: DirSize;
};

function* leavesOf(nodes: Iterable<ExportNode>): Generator<[Uint8Array, Uint8Array]> {
  for (const n of nodes) if (n.height === 0) yield [n.key, n.value!];
}

/** Our SC-only pipeline: each store's tree exported (prefetched) straight into a node-key importer. */
async function exportImportPhase(
  clock: PhaseClock,
  v1Path: string,
  outPath: string,
  height: number,
  track: (db: LevelDatabase) => LevelDatabase,
) {
  const src = track(await openDb(v1Path, { createIfMissing: false }));
  const dst = track(await openDb(outPath));
  try {
    const v1 = await MultiStoreV1.open(src, { readOnly: true });
    const ci = await v1.getCommitInfo(height);
    const phase = await clock.time('exportImport', async () => {
      let leaves = 0;
      let nodes = 0;
      for (const { name, hash } of ci.stores) {
        const tree = new MutableTree(dst, { layout: 'node-key', prefix: storePrefix(name) });
        await tree.loadVersion();
        const importer = new Importer(tree, height);
        for await (const chunk of (await v1.immutable(name, height)).exportChunks({ verify: false })) {
          for (const n of chunk) if (n.height === 0) leaves++;
          nodes += chunk.length;
          await importer.addAll(chunk);
        }
        const done = await importer.commit();
        if (toHex(done.hash) !== toHex(hash)) throw new Error(`store ${name}: imported root differs from v1`);
      }
      return { leaves, nodes };
    });
    return {
      ...phase.timing,
      ...phase.value,
      leavesPerSec: perSec(phase.value.leaves, phase.timing.elapsedMs),
    };
  } finally {
    await src.close();
    await dst.close();
  }
}

/**
 * Every leaf of v1 at its latest height, read with `leaves(tree)` store by store, written to
 * a fresh LevelDB as `<store>/<key>` → value in chained batches of about 4 MB. v1 is opened
 * anew (cold caches) and closed after.
 */
async function rawCopyPhase(
  clock: PhaseClock,
  name: string,
  v1Path: string,
  outPath: string,
  track: (db: LevelDatabase) => LevelDatabase,
  leaves: (tree: ImmutableTree) => Iterable<[Uint8Array, Uint8Array]>,
): Promise<RawCopy> {
  const v1Db = track(await openDb(v1Path, { createIfMissing: false }));
  const v1 = await MultiStoreV1.open(v1Db, { readOnly: true });
  const height = v1.latestVersion;
  const out = track(await openDb(outPath));
  const phase = await clock.time(name, async () => {
    let count = 0;
    let batches = 0;
    let logicalBytes = 0;
    let batch = out.batch();
    let pending = 0;
    for (const store of v1.storeNames()) {
      const prefix = utf8(`${store}/`);
      for (const [k, v] of leaves(await v1.immutable(store, height))) {
        const key = new Uint8Array(prefix.length + k.length);
        key.set(prefix, 0);
        key.set(k, prefix.length);
        batch.put(key, v);
        pending += key.length + v.length;
        count++;
        if (pending >= RAW_BATCH_BYTES) {
          await batch.write();
          batches++;
          logicalBytes += pending;
          pending = 0;
          batch = out.batch();
        }
      }
    }
    if (pending > 0) {
      await batch.write();
      batches++;
      logicalBytes += pending;
    } else {
      await batch.close();
    }
    return { leaves: count, batches, logicalBytes };
  });
  await out.close();
  await v1Db.close();
  return {
    ...phase.timing,
    ...phase.value,
    leavesPerSec: perSec(phase.value.leaves, phase.timing.elapsedMs),
    db: await dirSize(outPath),
  };
}

/**
 * Raw copy versus migration of the same v1 state, side by side in one process:
 * (1) every leaf of v1 at its latest height, read with `ImmutableTree.iterate()` and written
 * to a fresh LevelDB in ~4 MB chained batches: the cheapest migration this machine allows;
 * (2) `MigrationManager.migrate(height)` into a fresh v2 directory (StateCommitment and
 * StateStorage) as `src/cli/open-v2.ts` builds it. Both start from a freshly opened v1
 * (cold node cache, cold LevelDB block cache; the OS page cache is not dropped).
 */
export async function runMigrateBench(options: MigrateBenchOptions = {}): Promise<MigrateBenchResult> {
  const spec: FixtureSpec = {
    leaves: options.leaves ?? 1_000_000,
    stores: options.stores ?? 10,
    versions: 2,
    seed: options.seed ?? 1,
    ...(options.layout === 'node-key' ? { layout: 'node-key' as const } : {}),
  };
  const log = options.log ?? (() => {});
  const started = performance.now();
  const loadStart = load1m();
  const clock = new PhaseClock();
  const temp = new TempDirs();
  const track = (db: LevelDatabase): LevelDatabase => temp.track(db);
  try {
    const fixture = await ensureFixture(spec, log);
    const work = await temp.make('migrate');
    const v1Path = join(work, 'application.db');
    const copyMs = await copyFixture(fixture, v1Path);
    const v1Size = await dirSize(v1Path);
    log(`copied the fixture (${mib(v1Size.diskBytes)}) in ${ms(copyMs)}`);

    // --- (1) raw copy: iterate() as the issue defines it ------------------------------------
    const height = fixture.meta.latestVersion;
    log(`raw copy of v1 at height ${height} into a fresh LevelDB (ImmutableTree.iterate)`);
    const rawCopy = await rawCopyPhase(clock, 'rawCopy', v1Path, join(work, 'raw.db'), track, (tree) =>
      tree.iterate(),
    );
    log(
      `raw copy: ${int(rawCopy.leavesPerSec)} leaves/s (${int(rawCopy.leaves)} leaves, ${ms(rawCopy.elapsedMs)})`,
    );

    // --- (1b) raw copy through the export walk the migration uses ---------------------------
    log('raw copy through export({ verify: false }), leaves only');
    const rawExport = await rawCopyPhase(
      clock,
      'rawExport',
      v1Path,
      join(work, 'raw-export.db'),
      track,
      (tree) => leavesOf(tree.export({ verify: false })),
    );
    log(`raw export copy: ${int(rawExport.leavesPerSec)} leaves/s (${ms(rawExport.elapsedMs)})`);

    // --- (2) migration into SC + SS ------------------------------------------------------
    const v2Path = join(work, 'v2');
    const v1Db = track(await openDb(v1Path, { createIfMissing: false }));
    const v1 = await MultiStoreV1.open(v1Db, { readOnly: true });
    const expectedAppHash = toHex((await v1.getCommitInfo(height)).appHash);
    log(`migration of v1 at height ${height} into a fresh v2 directory`);
    let openMs = 0;
    const mig = await clock.time('migrate', async () => {
      const t = performance.now();
      const parts = await openV2(v2Path, v1);
      track(parts.db);
      openMs = performance.now() - t;
      let lastLog = performance.now();
      const sub = parts.manager.progress$.subscribe((p) => {
        const now = performance.now();
        if (now - lastLog < 10_000) return;
        lastLog = now;
        log(`  ${p.phase} ${p.store ?? ''}: ${int(p.leavesDone)} / ${int(p.leavesTotal)} leaves`);
      });
      try {
        return await parts.manager.migrate(height);
      } finally {
        sub.unsubscribe();
        await parts.manager.close();
        await parts.db.close();
      }
    });
    await v1Db.close();
    const r = mig.value;
    const appHash = r.appHash === undefined ? '' : toHex(r.appHash);
    const migrate = {
      ...mig.timing,
      leaves: r.leaves,
      nodes: r.nodes,
      durationMs: r.durationMs,
      leavesPerSec: perSec(r.leaves, r.durationMs),
      openMs,
      appHash,
      appHashMatchesV1: appHash === expectedAppHash,
      db: await dirSize(v2Path),
      parts: await approximatePartSizes(v2Path, V2_PARTS),
    };
    if (!migrate.appHashMatchesV1) {
      throw new Error(`migrated app hash ${appHash} is not v1's ${expectedAppHash}`);
    }
    if (migrate.leaves !== rawCopy.leaves) {
      throw new Error(`migration counted ${migrate.leaves} leaves, the raw copy ${rawCopy.leaves}`);
    }
    log(`migrate: ${int(migrate.leavesPerSec)} leaves/s (${ms(migrate.durationMs)}), app hash matches v1`);

    // --- (3) SC only, export -> import: ours, then Go iavl v1.2 on the same v1 copy ------------
    log('export -> import of every store into node-key trees (SC only), ours then Go');
    const tsExportImport = await exportImportPhase(clock, v1Path, join(work, 'sc-only.db'), height, track);
    log(`ours: ${int(tsExportImport.leavesPerSec)} leaves/s (${ms(tsExportImport.elapsedMs)})`);
    const bin = gorefBench();
    let go: GoMigrateResult | GoSkipped = typeof bin === 'string' ? { skipped: '' } : bin;
    if (typeof bin === 'string') {
      go = await runGorefBench<GoMigrateResult>(bin, [
        'migrate',
        '--v1',
        v1Path,
        '--work',
        await temp.make('go-migrate'),
      ]);
      if (go.leaves !== rawCopy.leaves || !go.rootsMatch) {
        throw new Error(`Go exported ${go.leaves} leaves, the raw copy ${rawCopy.leaves}`);
      }
      log(`go iavl v1.2: ${int(go.leavesPerSec)} leaves/s (${ms(go.elapsedMs)})`);
    } else {
      log(`go: skipped (${bin.skipped})`);
    }
    const exportImport = {
      ts: tsExportImport,
      go,
      vsGo:
        'skipped' in go
          ? undefined
          : {
              exportImport: tsExportImport.leavesPerSec / go.leavesPerSec,
              migrate: migrate.leavesPerSec / go.leavesPerSec,
            },
    };

    const ratio = rawCopy.leavesPerSec > 0 ? migrate.leavesPerSec / rawCopy.leavesPerSec : 0;
    const targets = [
      target('migrate ÷ raw copy (leaves/s)', ratio, MIGRATE_TARGETS.ratio, 'higher'),
      target('migrate ÷ raw copy, stretch', ratio, MIGRATE_TARGETS.stretchRatio, 'higher'),
    ];
    return {
      scenario: 'migrate',
      date: new Date().toISOString(),
      machine: machineInfo(loadStart),
      git: gitInfo(),
      params: {
        ...spec,
        rawBatchBytes: RAW_BATCH_BYTES,
        v1: 'MultiStoreV1.open(db, { readOnly: true })',
      },
      fixture: {
        key: fixture.key,
        fromCache: !fixture.generated,
        generateMs: fixture.meta.generateMs,
        copyMs,
        version: height,
        appHash: fixture.meta.appHash,
        db: v1Size,
      },
      leaves: migrate.leaves,
      rawCopyLeavesPerSec: rawCopy.leavesPerSec,
      migrateLeavesPerSec: migrate.leavesPerSec,
      ratio,
      rawExportLeavesPerSec: rawExport.leavesPerSec,
      ratioVsRawExport: rawExport.leavesPerSec > 0 ? migrate.leavesPerSec / rawExport.leavesPerSec : 0,
      phases: { rawCopy, rawExport, migrate },
      exportImport,
      targets,
      // The stretch goal is reported, not required.
      pass: targets[0].pass,
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
      totalMs: performance.now() - started,
      marks: clock.marks,
    };
  } finally {
    await temp.removeAll();
  }
}

export function migrateRows(r: MigrateBenchResult): TableRow[] {
  const p = r.phases;
  const [ratio, stretch] = r.targets;
  const ei = r.exportImport;
  const goRows: TableRow[] =
    'skipped' in ei.go
      ? [{ metric: 'Go iavl v1.2 export -> import (SC only)', value: `skipped: ${ei.go.skipped}` }]
      : [
          {
            metric: `Go iavl ${ei.go.modules['github.com/cosmos/iavl']} export -> import (SC only)`,
            value: `${int(ei.go.leavesPerSec)} leaves/s`,
          },
          {
            metric: 'ours, the same (exportChunks -> Importer)',
            value: `${int(ei.ts.leavesPerSec)} leaves/s`,
          },
          { metric: '  TS ÷ Go, SC only', value: `${ei.vsGo?.exportImport.toFixed(2)}x` },
          {
            metric: '  TS ÷ Go, our whole migration (SC + SS) ÷ Go SC only',
            value: `${ei.vsGo?.migrate.toFixed(2)}x`,
          },
        ];
  const cmp = r.comparedWithLegacy;
  const layoutRows: TableRow[] =
    cmp === undefined
      ? []
      : [
          { metric: 'v1 layout of this run', value: r.params.layout ?? 'legacy' },
          {
            metric: 'legacy v1 in the same run: migrate / raw copy',
            value: `${int(cmp.migrateLeavesPerSec)} / ${int(cmp.rawCopyLeavesPerSec)} leaves/s`,
          },
          {
            metric: 'legacy v1: SC only, ours / Go',
            value: `${int(cmp.exportImportLeavesPerSec)} / ${cmp.goExportImportLeavesPerSec === undefined ? 'n/a' : int(cmp.goExportImportLeavesPerSec)} leaves/s`,
          },
          {
            metric: 'migrate per leaf, node-key ÷ legacy',
            value: `${cmp.nodeKeyOverLegacy.toFixed(2)}x`,
            target: '≥ 1',
            pass: cmp.nodeKeyOverLegacy >= 1,
          },
        ];
  return [
    { metric: 'leaves at the migrated height', value: int(r.leaves) },
    ...layoutRows,
    ...goRows,
    { metric: 'stores / versions of history', value: `${r.params.stores} / ${r.params.versions}` },
    {
      metric: `fixture (${r.fixture.fromCache ? 'cached' : 'generated now'})`,
      value: `${mib(r.fixture.db.diskBytes)}, copy ${ms(r.fixture.copyMs)}`,
    },
    {
      metric: 'raw copy: iterate + chained batches of 4 MB',
      value: `${int(r.rawCopyLeavesPerSec)} leaves/s`,
    },
    {
      metric: 'migrate: SC + SS (MigrationManager.migrate)',
      value: `${int(r.migrateLeavesPerSec)} leaves/s`,
    },
    {
      metric: 'ratio migrate ÷ raw copy',
      value: r.ratio.toFixed(2),
      target: `≥ ${ratio.target}`,
      pass: ratio.pass,
    },
    { metric: '  stretch', value: r.ratio.toFixed(2), target: `≥ ${stretch.target}`, pass: stretch.pass },
    {
      metric: 'raw copy via export({ verify: false })',
      value: `${int(r.rawExportLeavesPerSec)} leaves/s`,
    },
    { metric: '  ratio migrate ÷ that (extra, no target)', value: r.ratioVsRawExport.toFixed(2) },
    {
      metric: 'elapsed raw copy / raw export copy / migrate',
      value: `${ms(p.rawCopy.elapsedMs)} / ${ms(p.rawExport.elapsedMs)} / ${ms(p.migrate.durationMs)}`,
    },
    { metric: 'migrate: nodes imported into SC', value: int(p.migrate.nodes) },
    { metric: 'migrate: app hash equals v1', value: p.migrate.appHashMatchesV1 ? 'yes' : 'NO' },
    {
      metric: 'disk (du): v1 / raw copy / v2',
      value: `${mib(r.fixture.db.diskBytes)} / ${mib(p.rawCopy.db.diskBytes)} / ${mib(p.migrate.db.diskBytes)}`,
    },
    {
      metric: 'v2 parts (approx.): SC trees / SS',
      value: `${mib(p.migrate.parts.scTrees)} / ${mib(p.migrate.parts.ss)}`,
    },
    { metric: 'raw copy bytes written (keys + values)', value: mib(p.rawCopy.logicalBytes) },
    {
      metric: 'load average raw copy / raw export / migrate',
      value: [p.rawCopy, p.rawExport, p.migrate].map((x) => x.loadAvg1m.join(' -> ')).join(' / '),
    },
    { metric: 'max RSS of the run', value: mib(r.maxRssBytes) },
    { metric: 'total', value: ms(r.totalMs) },
  ];
}

export const migrateScenario: Scenario<MigrateBenchResult> = {
  name: 'migrate',
  description: 'migration leaves/s against a raw copy of the same leaves (the physical limit)',
  async run(opts): Promise<ScenarioOutput<MigrateBenchResult>> {
    const base = { leaves: opts.keys, seed: opts.seed, log: opts.log };
    const legacy =
      opts.layout === 'node-key' ? await runMigrateBench({ ...base, layout: 'legacy' }) : undefined;
    const result = await runMigrateBench({ ...base, layout: opts.layout });
    if (legacy !== undefined) {
      result.comparedWithLegacy = {
        migrateLeavesPerSec: legacy.migrateLeavesPerSec,
        rawCopyLeavesPerSec: legacy.rawCopyLeavesPerSec,
        exportImportLeavesPerSec: legacy.exportImport.ts.leavesPerSec,
        goExportImportLeavesPerSec:
          'skipped' in legacy.exportImport.go ? undefined : legacy.exportImport.go.leavesPerSec,
        nodeKeyOverLegacy: result.migrateLeavesPerSec / legacy.migrateLeavesPerSec,
      };
    }
    return scenarioOutput(`migrate benchmark (${opts.layout ?? 'legacy'} v1)`, result, migrateRows(result));
  },
};
