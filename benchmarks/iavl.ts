import { performance } from 'node:perf_hooks';
import { createMPT } from '@ethereumjs/mpt';
import type { LevelDatabase } from '../src/db/kv-db.js';
import { openDb } from '../src/db/open-db.js';
import type { ExportNode } from '../src/iavl/immutable-tree.js';
import { Importer } from '../src/iavl/importer.js';
import { MutableTree, type SaveResult } from '../src/iavl/mutable-tree.js';
import { DEFAULT_CACHE_BYTES, type TreeLayout } from '../src/iavl/node-db.js';
import { type GitInfo, gitInfo, load1m, type MachineInfo, machineInfo, monoUs } from './lib/bench-env.js';
import { hex, int, mib, ms, perSec, type TableRow } from './lib/format.js';
import { type DirSize, dirSize, TempDirs } from './lib/fs-util.js';
import { fullGc } from './lib/full-gc.js';
import { type GoSkipped, gorefBench, runGorefBench, writePairs } from './lib/goref.js';
import { countIo, diffCounts, type IoCounts, zeroCounts } from './lib/io-counters.js';
import { MptLevelDb } from './lib/mpt-level-db.js';
import { generateKeyValues } from './lib/prng.js';
import { type Scenario, type ScenarioOutput, scenarioOutput } from './lib/scenario.js';
import { settleDb } from './lib/settle-db.js';

export interface IavlBenchOptions {
  /** Number of keys to insert. Default 100,000. */
  keys?: number;
  /** PRNG seed for keys and values. Default 1. */
  seed?: number;
  /** Machine-readable run: progress goes to stderr only (it always does). */
  json?: boolean;
  /** Sets per saveVersion (IAVL) and puts per checkpoint/commit (mpt). Default 1,000. */
  blockSize?: number;
  /** mpt's LRU node cache, in entries. Default 100,000 (about the IAVL default 64 MiB cache). */
  mptCacheSize?: number;
  /** IAVL node cache of every tree, in bytes. Default: the library's 64 MiB. */
  iavlCacheBytes?: number;
  /** Progress lines (to stderr). Default: a no-op. */
  log?: (line: string) => void;
}

export const TARGETS = {
  ratio: 20,
  exportNodesPerSec: 150_000,
  importNodesPerSec: 200_000,
} as const;

interface Phase {
  elapsedMs: number;
}

/** What `goref bench iavl` measures with Go iavl v1.2 on the same keys and the same legacy tree. */
export interface GoIavlResult {
  modules: Record<string, string>;
  /** Go's node cache, in nodes (cosmos-sdk's default). */
  cacheNodes: number;
  fastNodes: false;
  setSave: { keys: number; elapsedMs: number; keysPerSec: number; rootHash: string };
  /** iavl v1 exporting our legacy tree from a fresh open. */
  exportCold: { nodes: number; elapsedMs: number; nodesPerSec: number };
  import: { nodes: number; elapsedMs: number; nodesPerSec: number; rootHash: string; hashMatches: boolean };
}

/** TS ÷ Go, each a rate measured in the same run on the same data (above 1: TS is faster). */
export interface IavlVsGo {
  setSaveLegacy: number;
  setSaveNodeKey: number;
  exportCold: number;
  exportColdPrefetched: number;
  import: number;
}

interface SetPhase extends Phase {
  layout: TreeLayout;
  keysPerSec: number;
  versions: number;
  version: number;
  rootHash: string;
  /** Time spent in tree.set() and in saveVersion(), of elapsedMs. */
  setMs: number;
  saveMs: number;
  db: DirSize;
}

export interface IavlBenchResult {
  scenario: 'iavl';
  date: string;
  machine: MachineInfo;
  git: GitInfo;
  params: {
    keys: number;
    seed: number;
    blockSize: number;
    keyBytes: [number, number];
    valueBytes: [number, number];
    totalKeyBytes: number;
    totalValueBytes: number;
    /** Layout of the tree that is exported; set+save is measured in both layouts. */
    iavlLayout: 'legacy';
    iavlCacheBytes: number;
    iavlFastNodes: false;
    mpt: {
      package: string;
      useKeyHashing: boolean;
      valueEncoding: 'view';
      useRootPersistence: boolean;
      useNodePruning: boolean;
      cacheSize: number;
    };
  };
  phases: {
    generate: Phase;
    iavlSet: SetPhase;
    /** The same sets and saves into a node-key tree (store v2's StateCommitment layout), in its own db. */
    iavlSetNodeKey: SetPhase;
    mptPut: Phase & { putsPerSec: number; commits: number; root: string; db: DirSize };
    /** Unverified, as Go iavl's exporter and our migration read (the importer rechecks every hash). */
    /** settleMs: the full compaction of the legacy database before the exports. */
    exportCold: Phase & { nodes: number; nodesPerSec: number; openMs: number; settleMs: number };
    /** Every node's hash checked as it is read, and cached (reopened db, new tree). */
    exportColdVerified: Phase & { nodes: number; nodesPerSec: number };
    /** exportChunks: unverified, reads ahead with getMany on LevelDB's thread pool, as the migration (reopened db). */
    exportColdPrefetched: Phase & { nodes: number; nodesPerSec: number };
    exportWarm: Phase & { nodes: number; nodesPerSec: number };
    import: Phase & {
      nodes: number;
      nodesPerSec: number;
      layout: 'node-key';
      rootHash: string;
      reloadedRootHash: string;
      hashMatches: boolean;
      db: DirSize;
    };
    /** Export streamed straight into an importer (another fresh node-key db), warm source cache. */
    exportImportStream: Phase & { nodes: number; nodesPerSec: number; hashMatches: boolean };
  };
  summary: {
    iavlKeysPerSec: number;
    iavlNodeKeyKeysPerSec: number;
    mptPutsPerSec: number;
    ratio: number;
    ratioNodeKey: number;
    exportColdNodesPerSec: number;
    exportColdVerifiedNodesPerSec: number;
    exportColdPrefetchedNodesPerSec: number;
    exportWarmNodesPerSec: number;
    importNodesPerSec: number;
    nodeCount: number;
  };
  /** Go iavl v1.2 doing the same work in the same run, or why it did not run. */
  go: GoIavlResult | GoSkipped;
  /** The headline: TS ÷ Go per figure; absent when Go did not run. */
  vsGo?: IavlVsGo;
  targets: Array<{ name: string; value: number; target: number; pass: boolean }>;
  pass: boolean;
  totalMs: number;
  /**
   * Phase start and end on the monotonic clock in microseconds (the clock of the sample
   * timestamps in a `node --cpu-prof` profile), so a profile can be split by phase.
   */
  marks: Record<string, [number, number]>;
  /** LevelDB calls per phase, counted at the abstract-level private API (_getSync, _get, _batch). */
  io: Record<string, IoCounts>;
}

const KEY_BYTES: [number, number] = [16, 40];
const VALUE_BYTES: [number, number] = [32, 200];

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

/** Closes a database, then measures its directory (LevelDB has flushed its files by then). */
async function closeAndMeasure(db: LevelDatabase, dir: string): Promise<DirSize> {
  await db.close();
  return dirSize(dir);
}

/**
 * IAVL (this library) against @ethereumjs/mpt, both on LevelDB on disk, in one process:
 * insert throughput, then export (cold and warm) and import of the IAVL tree.
 */
export async function runIavlBench(options: IavlBenchOptions = {}): Promise<IavlBenchResult> {
  const keys = options.keys ?? 100_000;
  const seed = options.seed ?? 1;
  const blockSize = options.blockSize ?? 1_000;
  const mptCacheSize = options.mptCacheSize ?? 100_000;
  const cacheBytes = options.iavlCacheBytes ?? DEFAULT_CACHE_BYTES;
  const log = options.log ?? (() => {});
  if (!Number.isSafeInteger(keys) || keys < 1)
    throw new Error(`--keys must be a positive integer, not ${keys}`);
  if (!Number.isSafeInteger(blockSize) || blockSize < 1)
    throw new Error(`block size ${blockSize} is invalid`);

  const started = performance.now();
  const loadStart = load1m();
  const marks: Record<string, [number, number]> = {};
  let markStart = 0;
  const io = zeroCounts();
  let ioStart = zeroCounts();
  const ioPhases: Record<string, IoCounts> = {};
  const temp = new TempDirs();
  const tempDir = (label: string): Promise<string> => temp.make(label);
  const openTracked = async (dir: string): Promise<LevelDatabase> =>
    temp.track(countIo(await openDb(dir), io));

  try {
    // --- data --------------------------------------------------------------------------
    let t = performance.now();
    const data = generateKeyValues(keys, seed, {
      minKey: KEY_BYTES[0],
      maxKey: KEY_BYTES[1],
      minValue: VALUE_BYTES[0],
      maxValue: VALUE_BYTES[1],
    });
    const generate = { elapsedMs: performance.now() - t };
    log(`generated ${int(keys)} keys (seed ${seed}) in ${ms(generate.elapsedMs)}`);

    // Each phase runs in its own function, so what it leaves behind (a tree's node cache, the
    // mpt trie and its cache) is garbage before the next phase starts, and a full collection
    // off the clock clears it, so no phase pays for an earlier one's garbage.
    const phaseStart = () => {
      fullGc();
      markStart = monoUs();
      ioStart = { ...io };
    };
    const phaseEnd = (name: string) => {
      marks[name] = [markStart, monoUs()];
      ioPhases[name] = diffCounts(io, ioStart);
    };

    // --- IAVL: set + saveVersion per block, in both layouts -----------------------------
    const setAndSave = async (layout: TreeLayout, dir: string): Promise<SetPhase & { nodeCount: number }> => {
      const db = await openTracked(dir);
      const tree = new MutableTree(db, { layout, cacheBytes });
      await tree.loadVersion();
      let setMs = 0;
      let saveMs = 0;
      let versions = 0;
      let saved: SaveResult = { hash: new Uint8Array(0), version: 0 };
      const name = layout === 'legacy' ? 'iavlSet' : 'iavlSetNodeKey';
      phaseStart();
      const t = performance.now();
      for (let start = 0; start < keys; start += blockSize) {
        const end = Math.min(keys, start + blockSize);
        const t0 = performance.now();
        for (let i = start; i < end; i++) tree.set(data.keys[i], data.values[i]);
        const t1 = performance.now();
        saved = await tree.saveVersion();
        saveMs += performance.now() - t1;
        setMs += t1 - t0;
        versions++;
      }
      const elapsedMs = performance.now() - t;
      phaseEnd(name);
      const nodeCount = 2 * tree.getImmutable(saved.version).size - 1;
      return {
        layout,
        elapsedMs,
        keysPerSec: perSec(keys, elapsedMs),
        versions,
        version: saved.version,
        rootHash: hex(saved.hash),
        setMs,
        saveMs,
        db: await closeAndMeasure(db, dir),
        nodeCount,
      };
    };
    const iavlDir = await tempDir('iavl-legacy');
    const { nodeCount, ...iavlSet } = await setAndSave('legacy', iavlDir);
    // Settle the legacy database (a full compaction), as the migrate fixture is: a node's v1
    // database is not fresh off a bulk load, and background compaction would otherwise
    // compete with the exports below for the second core, at random.
    const settleMs = await settleDb(iavlDir);
    const savedVersion = iavlSet.version;
    const savedHash = Buffer.from(iavlSet.rootHash, 'hex');
    log(
      `iavl legacy: ${int(iavlSet.keysPerSec)} keys/s (${ms(iavlSet.elapsedMs)}, ${iavlSet.versions} versions)`,
    );
    const nodeKeySet = await setAndSave('node-key', await tempDir('iavl-node-key'));
    const { nodeCount: _, ...iavlSetNodeKey } = nodeKeySet;
    if (iavlSetNodeKey.rootHash !== iavlSet.rootHash) {
      throw new Error(`node-key root ${iavlSetNodeKey.rootHash} is not the legacy root ${iavlSet.rootHash}`);
    }
    log(`iavl node-key: ${int(iavlSetNodeKey.keysPerSec)} keys/s, same root hash`);

    // --- mpt: put, checkpoint/commit per block ------------------------------------------
    const mptOpts = {
      useKeyHashing: false,
      valueEncoding: 'view',
      useRootPersistence: true,
      useNodePruning: false,
      cacheSize: mptCacheSize,
    } as const;
    const mptPhase = async () => {
      const mptDir = await tempDir('mpt');
      const mptLevel = await openTracked(mptDir);
      const trie = await createMPT({ db: new MptLevelDb(mptLevel), ...mptOpts });
      let commits = 0;
      phaseStart();
      const t = performance.now();
      for (let start = 0; start < keys; start += blockSize) {
        const end = Math.min(keys, start + blockSize);
        trie.checkpoint();
        for (let i = start; i < end; i++) await trie.put(data.keys[i], data.values[i]);
        await trie.commit();
        commits++;
      }
      const elapsedMs = performance.now() - t;
      phaseEnd('mptPut');
      const root = hex(trie.root());
      const db = await closeAndMeasure(mptLevel, mptDir);
      return { elapsedMs, putsPerSec: perSec(keys, elapsedMs), commits, root, db };
    };
    const mptPut = await mptPhase();
    log(`mpt: ${int(mptPut.putsPerSec)} puts/s (${ms(mptPut.elapsedMs)}, ${mptPut.commits} commits)`);

    /** The legacy tree from a fresh open: LevelDB's block cache and the node cache start empty. */
    const openSource = async () => {
      const db = await openTracked(iavlDir);
      const tree = new MutableTree(db, { layout: 'legacy', cacheBytes });
      await tree.loadVersion();
      return { db, snapshot: tree.getImmutable(savedVersion) };
    };

    // --- export, cold, prefetched, as the migration reads -------------------------------
    const exportColdPrefetched = await (async () => {
      const { db, snapshot } = await openSource();
      phaseStart();
      const t = performance.now();
      let nodes = 0;
      for await (const chunk of snapshot.exportChunks({ verify: false })) nodes += chunk.length;
      const elapsedMs = performance.now() - t;
      phaseEnd('exportColdPrefetched');
      await db.close();
      return { elapsedMs, nodes, nodesPerSec: perSec(nodes, elapsedMs) };
    })();
    log(`export cold, prefetched: ${int(exportColdPrefetched.nodesPerSec)} nodes/s`);

    // --- export, cold, one node at a time (materialized: the import's input) ------------
    const exported: ExportNode[] = [];
    const exportCold = await (async () => {
      phaseStart();
      let t = performance.now();
      const { db, snapshot } = await openSource();
      const openMs = performance.now() - t;
      t = performance.now();
      for (const n of snapshot.export({ verify: false })) exported.push(n);
      const elapsedMs = performance.now() - t;
      phaseEnd('exportCold');
      await db.close();
      return {
        elapsedMs,
        nodes: exported.length,
        nodesPerSec: perSec(exported.length, elapsedMs),
        openMs,
        settleMs,
      };
    })();
    log(`export cold: ${int(exportCold.nodesPerSec)} nodes/s (${int(exported.length)} nodes)`);
    if (exported.length !== nodeCount) {
      throw new Error(`export produced ${exported.length} nodes, the tree has ${nodeCount}`);
    }

    // --- import: the exported nodes into a fresh node-key tree --------------------------
    const importPhase = await (async () => {
      const importDir = await tempDir('import-node-key');
      const importDb = await openTracked(importDir);
      const target = new MutableTree(importDb, { layout: 'node-key', cacheBytes });
      await target.loadVersion();
      phaseStart();
      const t = performance.now();
      const importer = new Importer(target, savedVersion);
      await importer.addAll(exported);
      const imported = await importer.commit();
      const elapsedMs = performance.now() - t;
      phaseEnd('import');
      const reloadedRoot = target.getImmutable(savedVersion).hash;
      const hashMatches = equal(imported.hash, savedHash) && equal(reloadedRoot, savedHash);
      if (!hashMatches) {
        throw new Error(
          `import root hash mismatch: source ${hex(savedHash)}, importer ${hex(imported.hash)}, ` +
            `reloaded ${hex(reloadedRoot)}`,
        );
      }
      return {
        elapsedMs,
        nodes: importer.count,
        nodesPerSec: perSec(importer.count, elapsedMs),
        layout: 'node-key' as const,
        rootHash: hex(imported.hash),
        reloadedRootHash: hex(reloadedRoot),
        hashMatches,
        db: await closeAndMeasure(importDb, importDir),
      };
    })();
    log(`import: ${int(importPhase.nodesPerSec)} nodes/s, root hash matches`);
    // The streamed run below must not carry the materialized export's 200k objects.
    exported.length = 0;

    // --- export, cold, every hash verified; then warm; then streamed into an importer ---
    const { db: verifiedDb, snapshot: verifiedSnapshot } = await openSource();
    phaseStart();
    t = performance.now();
    let verifiedCount = 0;
    for (const _ of verifiedSnapshot.export()) verifiedCount++;
    const verifiedMs = performance.now() - t;
    phaseEnd('exportColdVerified');
    const exportColdVerified = {
      elapsedMs: verifiedMs,
      nodes: verifiedCount,
      nodesPerSec: perSec(verifiedCount, verifiedMs),
    };
    log(`export cold, verified: ${int(exportColdVerified.nodesPerSec)} nodes/s`);

    let warmCount = 0;
    phaseStart();
    t = performance.now();
    for (const _ of verifiedSnapshot.export()) warmCount++;
    const warmMs = performance.now() - t;
    phaseEnd('exportWarm');
    const exportWarm = { elapsedMs: warmMs, nodes: warmCount, nodesPerSec: perSec(warmCount, warmMs) };
    log(`export warm: ${int(exportWarm.nodesPerSec)} nodes/s`);

    const streamDir = await tempDir('stream-node-key');
    const streamDb = await openTracked(streamDir);
    const streamTarget = new MutableTree(streamDb, { layout: 'node-key', cacheBytes });
    await streamTarget.loadVersion();
    phaseStart();
    t = performance.now();
    const streamImporter = new Importer(streamTarget, savedVersion);
    await streamImporter.addAll(verifiedSnapshot.export({ verify: false }));
    const streamed = await streamImporter.commit();
    const streamMs = performance.now() - t;
    phaseEnd('exportImportStream');
    if (!equal(streamed.hash, savedHash)) {
      throw new Error(`streamed import root hash ${hex(streamed.hash)} is not ${hex(savedHash)}`);
    }
    const exportImportStream = {
      elapsedMs: streamMs,
      nodes: streamImporter.count,
      nodesPerSec: perSec(streamImporter.count, streamMs),
      hashMatches: true,
    };
    await streamDb.close();
    await verifiedDb.close();
    log(`export->import stream: ${int(exportImportStream.nodesPerSec)} nodes/s`);

    // --- Go iavl v1.2 on the same keys, and exporting the same legacy tree --------------
    const go = await goIavlPhase(
      data.keys,
      data.values,
      blockSize,
      iavlDir,
      savedVersion,
      await tempDir('go'),
      log,
    );
    if (!('skipped' in go) && (go.setSave.rootHash !== iavlSet.rootHash || !go.import.hashMatches)) {
      throw new Error(
        `Go's root ${go.setSave.rootHash} is not ours ${iavlSet.rootHash}, or its import differs`,
      );
    }
    const vsGo =
      'skipped' in go
        ? undefined
        : {
            setSaveLegacy: iavlSet.keysPerSec / go.setSave.keysPerSec,
            setSaveNodeKey: iavlSetNodeKey.keysPerSec / go.setSave.keysPerSec,
            exportCold: exportCold.nodesPerSec / go.exportCold.nodesPerSec,
            exportColdPrefetched: exportColdPrefetched.nodesPerSec / go.exportCold.nodesPerSec,
            import: importPhase.nodesPerSec / go.import.nodesPerSec,
          };

    const ratio = mptPut.putsPerSec > 0 ? iavlSet.keysPerSec / mptPut.putsPerSec : 0;
    const ratioNodeKey = mptPut.putsPerSec > 0 ? iavlSetNodeKey.keysPerSec / mptPut.putsPerSec : 0;
    const targets = [
      { name: 'iavl keys/s ÷ mpt puts/s', value: ratio, target: TARGETS.ratio },
      { name: 'iavl keys/s ÷ mpt puts/s (node-key)', value: ratioNodeKey, target: TARGETS.ratio },
      { name: 'export nodes/s (cold)', value: exportCold.nodesPerSec, target: TARGETS.exportNodesPerSec },
      {
        name: 'export nodes/s (cold, prefetched)',
        value: exportColdPrefetched.nodesPerSec,
        target: TARGETS.exportNodesPerSec,
      },
      {
        name: 'export nodes/s (cold, verified)',
        value: exportColdVerified.nodesPerSec,
        target: TARGETS.exportNodesPerSec,
      },
      { name: 'export nodes/s (warm)', value: exportWarm.nodesPerSec, target: TARGETS.exportNodesPerSec },
      { name: 'import nodes/s', value: importPhase.nodesPerSec, target: TARGETS.importNodesPerSec },
    ].map((x) => ({ ...x, pass: x.value >= x.target }));

    return {
      scenario: 'iavl',
      date: new Date().toISOString(),
      machine: machineInfo(loadStart),
      git: gitInfo(),
      params: {
        keys,
        seed,
        blockSize,
        keyBytes: KEY_BYTES,
        valueBytes: VALUE_BYTES,
        totalKeyBytes: data.keyBytes,
        totalValueBytes: data.valueBytes,
        iavlLayout: 'legacy',
        iavlCacheBytes: cacheBytes,
        iavlFastNodes: false,
        mpt: { package: '@ethereumjs/mpt', ...mptOpts },
      },
      phases: {
        generate,
        iavlSet,
        iavlSetNodeKey,
        mptPut,
        exportCold,
        exportColdVerified,
        exportColdPrefetched,
        exportWarm,
        import: importPhase,
        exportImportStream,
      },
      summary: {
        iavlKeysPerSec: iavlSet.keysPerSec,
        iavlNodeKeyKeysPerSec: iavlSetNodeKey.keysPerSec,
        mptPutsPerSec: mptPut.putsPerSec,
        ratio,
        ratioNodeKey,
        exportColdNodesPerSec: exportCold.nodesPerSec,
        exportColdVerifiedNodesPerSec: exportColdVerified.nodesPerSec,
        exportColdPrefetchedNodesPerSec: exportColdPrefetched.nodesPerSec,
        exportWarmNodesPerSec: exportWarm.nodesPerSec,
        importNodesPerSec: importPhase.nodesPerSec,
        nodeCount,
      },
      go,
      vsGo,
      targets,
      pass: targets.every((x) => x.pass),
      totalMs: performance.now() - started,
      io: ioPhases,
      marks,
    };
  } finally {
    await temp.removeAll();
  }
}

/** Runs `goref bench iavl` (after every database of ours on `legacyDir` is closed). */
async function goIavlPhase(
  keys: Uint8Array[],
  values: Uint8Array[],
  blockSize: number,
  legacyDir: string,
  version: number,
  work: string,
  log: (line: string) => void,
): Promise<GoIavlResult | GoSkipped> {
  const bin = gorefBench();
  if (typeof bin !== 'string') {
    log(`go: skipped (${bin.skipped})`);
    return bin;
  }
  const data = `${work}/pairs.bin`;
  await writePairs(data, keys, values);
  fullGc();
  const go = await runGorefBench<GoIavlResult>(bin, [
    'iavl',
    '--data',
    data,
    '--block',
    String(blockSize),
    '--legacy',
    legacyDir,
    '--version',
    String(version),
    '--work',
    work,
  ]);
  log(
    `go iavl v1.2: set+save ${int(go.setSave.keysPerSec)} keys/s, export cold ${int(go.exportCold.nodesPerSec)} nodes/s, import ${int(go.import.nodesPerSec)} nodes/s`,
  );
  return go;
}

/** `0.42x`, or `n/a` when Go did not run. */
function ratioText(r: number | undefined): string {
  return r === undefined ? 'n/a' : `${r.toFixed(2)}x`;
}

/** The human-readable table of a result. */
export function iavlRows(r: IavlBenchResult): TableRow[] {
  const p = r.phases;
  const target = (name: string) => r.targets.find((x) => x.name === name)!;
  const ratio = target('iavl keys/s ÷ mpt puts/s');
  const ratioNodeKey = target('iavl keys/s ÷ mpt puts/s (node-key)');
  const cold = target('export nodes/s (cold)');
  const coldVerified = target('export nodes/s (cold, verified)');
  const coldPrefetched = target('export nodes/s (cold, prefetched)');
  const warm = target('export nodes/s (warm)');
  const imp = target('import nodes/s');
  const go = 'skipped' in r.go ? undefined : r.go;
  const goRows: TableRow[] =
    go === undefined
      ? [{ metric: 'Go iavl v1.2, same work and data', value: `skipped: ${(r.go as GoSkipped).skipped}` }]
      : [
          {
            metric: `Go iavl ${go.modules['github.com/cosmos/iavl']}: set+saveVersion`,
            value: `${int(go.setSave.keysPerSec)} keys/s`,
          },
          {
            metric: '  TS ÷ Go, legacy / node-key',
            value: `${ratioText(r.vsGo?.setSaveLegacy)} / ${ratioText(r.vsGo?.setSaveNodeKey)}`,
          },
          {
            metric: 'Go: export of our legacy tree, cold',
            value: `${int(go.exportCold.nodesPerSec)} nodes/s`,
          },
          {
            metric: '  TS ÷ Go, one at a time / prefetched',
            value: `${ratioText(r.vsGo?.exportCold)} / ${ratioText(r.vsGo?.exportColdPrefetched)}`,
          },
          { metric: 'Go: import into node-key tree', value: `${int(go.import.nodesPerSec)} nodes/s` },
          { metric: '  TS ÷ Go', value: ratioText(r.vsGo?.import) },
        ];
  return [
    { metric: 'keys', value: int(r.params.keys) },
    ...goRows,
    {
      metric: `iavl set+saveVersion (legacy, ${int(r.params.blockSize)}/version)`,
      value: `${int(p.iavlSet.keysPerSec)} keys/s`,
    },
    { metric: '  of which set / saveVersion', value: `${ms(p.iavlSet.setMs)} / ${ms(p.iavlSet.saveMs)}` },
    {
      metric: `iavl set+saveVersion (node-key, ${int(r.params.blockSize)}/version)`,
      value: `${int(p.iavlSetNodeKey.keysPerSec)} keys/s`,
    },
    {
      metric: '  of which set / saveVersion',
      value: `${ms(p.iavlSetNodeKey.setMs)} / ${ms(p.iavlSetNodeKey.saveMs)}`,
    },
    {
      metric: `mpt put (checkpoint+commit per ${int(r.params.blockSize)})`,
      value: `${int(p.mptPut.putsPerSec)} puts/s`,
    },
    {
      metric: 'ratio iavl (legacy) ÷ mpt',
      value: `${ratio.value.toFixed(1)}x`,
      target: `≥ ${ratio.target}x`,
      pass: ratio.pass,
    },
    {
      metric: 'ratio iavl (node-key) ÷ mpt',
      value: `${ratioNodeKey.value.toFixed(1)}x`,
      target: `≥ ${ratioNodeKey.target}x`,
      pass: ratioNodeKey.pass,
    },
    { metric: 'node count', value: int(r.summary.nodeCount) },
    {
      metric: 'export, cold cache (unverified, as Go iavl exports)',
      value: `${int(cold.value)} nodes/s`,
      target: `≥ ${int(cold.target)}`,
      pass: cold.pass,
    },
    {
      metric: 'export, cold cache, prefetched (exportChunks, as the migration)',
      value: `${int(coldPrefetched.value)} nodes/s`,
      target: `≥ ${int(coldPrefetched.target)}`,
      pass: coldPrefetched.pass,
    },
    {
      metric: 'export, cold cache, every hash verified',
      value: `${int(coldVerified.value)} nodes/s`,
      target: `≥ ${int(coldVerified.target)}`,
      pass: coldVerified.pass,
    },
    {
      metric: 'export, warm cache',
      value: `${int(warm.value)} nodes/s`,
      target: `≥ ${int(warm.target)}`,
      pass: warm.pass,
    },
    {
      metric: 'import into node-key tree',
      value: `${int(imp.value)} nodes/s`,
      target: `≥ ${int(imp.target)}`,
      pass: imp.pass,
    },
    { metric: '  root hash equals source', value: p.import.hashMatches ? 'yes' : 'NO' },
    { metric: 'export -> import stream', value: `${int(p.exportImportStream.nodesPerSec)} nodes/s` },
    {
      metric: 'LevelDB reads: iavl set / export cold / warm',
      value: `${int(r.io.iavlSet.getSync)} / ${int(r.io.exportCold.getSync)} / ${int(r.io.exportWarm.getSync)}`,
    },
    {
      metric: 'batch ops written: iavl legacy / node-key / mpt / import',
      value: `${int(r.io.iavlSet.batchOps)} / ${int(r.io.iavlSetNodeKey.batchOps)} / ${int(r.io.mptPut.batchOps)} / ${int(r.io.import.batchOps)}`,
    },
    { metric: 'LevelDB reads: mpt', value: int(r.io.mptPut.get) },
    { metric: 'iavl node cache', value: mib(r.params.iavlCacheBytes) },
    { metric: 'db size iavl (legacy)', value: mib(p.iavlSet.db.diskBytes) },
    { metric: 'db size mpt', value: mib(p.mptPut.db.diskBytes) },
    { metric: 'db size import (node-key)', value: mib(p.import.db.diskBytes) },
    { metric: 'elapsed iavl set / mpt put', value: `${ms(p.iavlSet.elapsedMs)} / ${ms(p.mptPut.elapsedMs)}` },
    {
      metric: 'elapsed export cold / warm / import',
      value: `${ms(p.exportCold.elapsedMs)} / ${ms(p.exportWarm.elapsedMs)} / ${ms(p.import.elapsedMs)}`,
    },
    { metric: 'total', value: ms(r.totalMs) },
  ];
}

export const iavlScenario: Scenario<IavlBenchResult> = {
  name: 'iavl',
  description: 'IAVL set/saveVersion vs @ethereumjs/mpt put, IAVL export (cold, warm) and import',
  async run(opts): Promise<ScenarioOutput<IavlBenchResult>> {
    const result = await runIavlBench({
      keys: opts.keys,
      seed: opts.seed,
      json: opts.json,
      log: opts.log,
      blockSize: opts.blockChanges,
      iavlCacheBytes: opts.cacheMiB === undefined ? undefined : opts.cacheMiB * 1024 * 1024,
    });
    return scenarioOutput('iavl benchmark', result, iavlRows(result));
  },
};
