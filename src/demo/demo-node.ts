import { cpSync } from 'node:fs';
import type { Subscription } from 'rxjs';
import { openDb } from '../db/open-db.js';
import { equalBytes, toHex } from '../encoding/bytes.js';
import { StoreMigrateError } from '../errors.js';
import type { TreeLayout } from '../iavl/node-db.js';
import { type Logger, silentLogger } from '../logger.js';
import { MultiStoreV1 } from '../v1/multi-store-v1.js';
import { type NodeHome, openNodeHome } from '../v2/root/node-home.js';
import { RootStore, type RootStoreEvent } from '../v2/root/root-store.js';
import { BlockMaker } from '../workload/block-maker.js';
import {
  generateSyntheticState,
  type SyntheticStateProgress,
  syntheticStoreNames,
} from '../workload/synthetic-state.js';
import { type DemoPaths, prepareDemoHome } from './demo-home.js';
import { type LatencySummary, percentile, summarizeLatencies } from './latency-stats.js';
import { ReferenceNode } from './reference-node.js';

export interface DemoOptions {
  /** The node home; wiped first when an earlier demo made it. Default `./.store-migrate-demo`. */
  home?: string;
  /**
   * Stops the demo at the next block boundary: the node and the reference close (the
   * migration keeps its checkpoint), and runDemo rejects with the signal's reason.
   */
  signal?: AbortSignal;
  /** Stores of the synthetic state. Default 4. */
  stores?: number;
  /** Live keys of the synthetic state. Default 200 000. */
  keys?: number;
  /** Versions of history written before the node starts. Default 10. */
  versions?: number;
  /**
   * Tree layout of the generated v1: `node-key` (cosmos-sdk v0.50+, what live chains run;
   * the default) or `legacy` (v0.47 and before).
   */
  layout?: TreeLayout;
  /** Blocks committed before the migration starts (latency without a migration). Default 10. */
  blocksBefore?: number;
  /** Blocks committed on v2 after the switch. Default 20. */
  blocks?: number;
  /** Changes per block. Default 500. */
  blockKeys?: number;
  /** Time from one block's start to the next one's. Default 200 ms. */
  blockIntervalMs?: number;
  /** Migration restore throttle, leaves per second. Default: none. */
  throttle?: number;
  /** Run the migration on a worker thread (RootStore `worker`). Default true. */
  worker?: boolean;
  /**
   * RootStore's `changesetJournal`: commits do not wait for the worker. Default: with a
   * node-key v1 and the worker, what docs/operations.md advises for blocks spaced as on a
   * chain (the sync copies a block for a fraction of what the node's commit costs, so it
   * catches up on spare CPU); off with a legacy v1, whose sync replays each block and needs
   * the commits' waits to catch up on two cores.
   */
  changesetJournal?: boolean;
  /** RootStore's `workerNice` (Linux). Default: 10 with a node-key v1 and the worker, else 0. */
  workerNice?: number;
  /** Seed of the synthetic state; the blocks use seed + 1. Default 1. */
  seed?: number;
  /** Serve JSON-RPC on this port during the run (0: any free port). */
  rpcPort?: number;
  /** RPC bind address. Default 127.0.0.1. */
  rpcHost?: string;
  /**
   * Blocks come at most every `headroom` times a commit's cost (median of recent commits), when
   * that is more than `blockIntervalMs`: room for the migration on a slow machine. Default 2 (commits
   * use at most half the time); 0: off.
   */
  headroom?: number;
  /** Give up when the migration has not switched after this long. Default 10 minutes. */
  migrationTimeoutMs?: number;
  /** Run the reference v1 in a worker thread. Default: when the compiled worker exists. */
  referenceWorker?: boolean;
  logger?: Logger;
}

type Defaulted =
  | 'home'
  | 'stores'
  | 'keys'
  | 'versions'
  | 'layout'
  | 'blocksBefore'
  | 'blocks'
  | 'blockKeys'
  | 'blockIntervalMs'
  | 'seed'
  | 'headroom'
  | 'migrationTimeoutMs';
type ResolvedOptions = Required<Pick<DemoOptions, Defaulted>> & Omit<DemoOptions, Defaulted>;

export const DEMO_DEFAULTS: Readonly<Required<Pick<DemoOptions, Defaulted>>> = {
  home: '.store-migrate-demo',
  stores: 4,
  keys: 200_000,
  versions: 10,
  layout: 'node-key',
  blocksBefore: 10,
  blocks: 20,
  blockKeys: 500,
  blockIntervalMs: 200,
  seed: 1,
  headroom: 2,
  migrationTimeoutMs: 10 * 60_000,
};

/** When a block was committed, relative to the migration. */
export type DemoStage = 'before' | 'during' | 'after';

export interface DemoBlock {
  version: number;
  stage: DemoStage;
  /** The store the block went to. */
  mode: 'v1' | 'v2';
  /** Wall time of the node's commit, queueing included. */
  latencyMs: number;
  changes: number;
  appHash: string;
  /** The node's app hash equals the reference's at this height. */
  appHashOk: boolean;
}

export interface DemoHooks {
  /** What the demo is doing, one line at a time. */
  log?: (message: string) => void;
  /** Progress of the synthetic state generation (before the node starts). */
  onGenerate?: (p: SyntheticStateProgress) => void;
  /** The node's store, once open and before the migration starts: watch progress$ and events$ here. */
  onRootStore?: (store: RootStore) => void;
  onBlock?: (block: DemoBlock) => void;
  /** The RPC server's address, once it listens (with `rpcPort`). */
  onRpc?: (url: string) => void;
}

export interface DemoMismatch {
  version: number;
  appHash: string;
  referenceAppHash: string;
}

export interface DemoSummary {
  /** The last height committed on v1; v2 committed every later one. */
  switchedAtVersion: number;
  finalVersion: number;
  /** Every height's app hash from the node equals the reference's (blocks as committed, and re-read at the end). */
  appHashContinuity: boolean;
  /** The first few heights whose app hashes differ. */
  mismatches: DemoMismatch[];
  appHash: string;
  /** Over all blocks the demo committed, and by stage. */
  commitLatencyMs: LatencySummary & {
    before: LatencySummary;
    during: LatencySummary;
    after: LatencySummary;
    /** During the migration ÷ before it (null without blocks in both): what the migration costs a commit. */
    duringOverBefore: { p50: number | null; p99: number | null };
  };
  migration: {
    /** The height the migration exported v1 at. */
    height: number;
    /** Leaves restored (all stores at `height`). */
    leaves: number;
    /** From the start of the migration to the switch. */
    durationMs: number;
    /** From the start of the migration to the end of the restore. */
    restoreMs: number;
    /** Leaves per second of the restore. */
    leavesPerSec: number;
    /** Versions replayed from the buffer after the restore (height + 1 .. switch). */
    syncedVersions: number;
    throttle: number | null;
    /** Where the migration ran, and the worker's tuning (RootStore's options). */
    thread: 'worker' | 'main';
    changesetJournal: boolean;
    workerNice: number;
  };
  blocks: {
    before: number;
    during: number;
    after: number;
    changesPerBlock: number;
    /** The requested interval. */
    intervalMs: number;
    /** Start to start, as committed (longer when commits are slow; see `headroom`). */
    actualIntervalMs: { p50: number; max: number };
  };
  state: {
    stores: string[];
    keys: number;
    versions: number;
    layout: TreeLayout;
    liveKeysAtEnd: number;
    generateMs: number;
  };
  paths: DemoPaths;
  rpc: { url: string } | null;
  durationMs: number;
}

/** Loaded only when the demo serves RPC: the HTTP server stays out of a plain run's start-up. */
async function loadRpcServer(): Promise<typeof import('../rpc/rpc-server.js').startRpcServer> {
  return (await import('../rpc/rpc-server.js')).startRpcServer;
}

function resolveOptions(options: DemoOptions): ResolvedOptions {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const o: ResolvedOptions = { ...DEMO_DEFAULTS, ...given };
  for (const name of ['stores', 'keys', 'versions', 'blockKeys'] as const) {
    if (!Number.isSafeInteger(o[name]) || o[name] < 1) {
      throw new StoreMigrateError('ERR_INVALID_PARAMS', `${name} must be a positive integer, not ${o[name]}`);
    }
  }
  for (const name of ['blocksBefore', 'blocks', 'blockIntervalMs', 'headroom'] as const) {
    if (!Number.isSafeInteger(o[name]) || o[name] < 0) {
      throw new StoreMigrateError(
        'ERR_INVALID_PARAMS',
        `${name} must be a non-negative integer, not ${o[name]}`,
      );
    }
  }
  if (
    o.workerNice !== undefined &&
    !(Number.isSafeInteger(o.workerNice) && o.workerNice >= 0 && o.workerNice <= 19)
  ) {
    throw new StoreMigrateError(
      'ERR_INVALID_PARAMS',
      `workerNice must be an integer from 0 to 19, not ${o.workerNice}`,
    );
  }
  if (o.layout !== 'legacy' && o.layout !== 'node-key') {
    throw new StoreMigrateError(
      'ERR_INVALID_PARAMS',
      `layout must be legacy or node-key, not ${String(o.layout)}`,
    );
  }
  return o;
}

/** The worker's tuning: as given, or the default for the layout (see DemoOptions). */
function migrationTuning(o: ResolvedOptions): { changesetJournal: boolean; workerNice: number } {
  const tuned = o.layout === 'node-key' && o.worker !== false;
  return {
    changesetJournal: o.changesetJournal ?? tuned,
    workerNice: o.workerNice ?? (tuned ? 10 : 0),
  };
}

/** p50 and p99 of `a` ÷ `b`, to 0.01 (null where `b` has no blocks). */
function latencyRatio(a: LatencySummary, b: LatencySummary): { p50: number | null; p99: number | null } {
  const ratio = (x: number, y: number) =>
    a.count === 0 || b.count === 0 || y === 0 ? null : Math.round((x / y) * 100) / 100;
  return { p50: ratio(a.p50, b.p50), p99: ratio(a.p99, b.p99) };
}

function roundedPercentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(percentile(sorted, p));
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const fmtInt = (n: number) => n.toLocaleString('en-US');
const fmtSec = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/**
 * Node cache per store while generating: room for a whole tree of `keys` keys (two nodes a
 * key, a few hundred bytes a node), so the keys can be listed afterwards without disk reads.
 */
function generationCacheBytes(keys: number): number {
  return Math.min(2 * 1024 ** 3, Math.max(64 * 1024 ** 2, keys * 2 * 400));
}

/** Writes the synthetic state into a new v1 and returns its live keys per store. */
async function generate(
  path: string,
  o: ResolvedOptions,
  onProgress: DemoHooks['onGenerate'],
): Promise<Map<string, Uint8Array[]>> {
  const db = await openDb(path);
  try {
    const ms = await MultiStoreV1.open(db, {
      stores: syntheticStoreNames(o.stores),
      cacheBytes: generationCacheBytes(o.keys),
      layout: o.layout,
    });
    await generateSyntheticState(
      ms,
      { stores: o.stores, keys: o.keys, versions: o.versions, seed: o.seed },
      onProgress,
    );
    const live = new Map<string, Uint8Array[]>();
    for (const store of ms.storeNames()) {
      const keys: Uint8Array[] = [];
      // Own copies: a node's key may be a view into a bigger buffer, which a message to the
      // reference worker would copy whole.
      for (const [key] of ms.tree(store).getImmutable(ms.latestVersion).iterate()) {
        keys.push(new Uint8Array(key));
      }
      live.set(store, keys);
    }
    return live;
  } finally {
    await db.close();
  }
}

/**
 * Runs a simulated node: writes a synthetic v1 state with history into a new node home,
 * copies it as a reference, then opens the node's RootStore and commits blocks at a steady
 * pace — some before the migration, the rest while it runs in the background, and `blocks`
 * more on v2 after the switch. The reference v1 commits the same blocks; every height's app
 * hash must match. Rejects when the migration fails; resolves with the summary otherwise
 * (check `appHashContinuity`).
 */
export async function runDemo(options: DemoOptions = {}, hooks: DemoHooks = {}): Promise<DemoSummary> {
  const o = resolveOptions(options);
  const log = hooks.log ?? (() => {});
  const t0 = performance.now();
  const paths = prepareDemoHome(o.home);
  log(
    `generating store v1: ${o.stores} stores, ${fmtInt(o.keys)} keys, ${o.versions} versions of history in ${paths.v1}`,
  );
  const genStart = performance.now();
  const live = await generate(paths.v1, o, hooks.onGenerate);
  options.signal?.throwIfAborted();
  const generateMs = performance.now() - genStart;
  // The reference is taken before anything runs on the node; the node's db is closed.
  cpSync(paths.v1, paths.reference, { recursive: true });
  log(`generated in ${fmtSec(generateMs)}; reference copy at ${paths.reference}`);

  const run = await DemoRun.start(o, paths, live, hooks, options.signal);
  try {
    await run.commitPhases();
    const summary = await run.summary(generateMs);
    summary.durationMs = Math.round(performance.now() - t0);
    return summary;
  } finally {
    await run.close();
  }
}

/** Milestones of the background migration, timed as they happen. */
interface Milestones {
  height: number;
  startedAt: number;
  restoredAt: number | undefined;
  switchedAt: number | undefined;
  failure: StoreMigrateError | undefined;
}

/** One demo's node, reference and blocks: what runDemo drives from open to summary. */
class DemoRun {
  readonly #o: ResolvedOptions;
  readonly #paths: DemoPaths;
  readonly #hooks: DemoHooks;
  readonly #log: (message: string) => void;
  readonly #signal: AbortSignal | undefined;
  readonly #node: NodeHome;
  readonly #ref: ReferenceNode;
  readonly #store: RootStore;
  readonly #rpc: { url: string; close(): Promise<void> } | undefined;
  readonly #sub: Subscription;
  readonly #maker: BlockMaker;
  readonly #blocks: DemoBlock[] = [];
  readonly #mismatches: DemoMismatch[] = [];
  /** The reference commits each block in its own thread; its answers are awaited at the end. */
  readonly #checks: Array<Promise<void>> = [];
  readonly #m: Milestones = {
    height: 0,
    startedAt: 0,
    restoredAt: undefined,
    switchedAt: undefined,
    failure: undefined,
  };
  #migrating = false;
  #interval: number;
  readonly #recent: number[] = [];
  readonly #gaps: number[] = [];
  #lastStart = Number.NEGATIVE_INFINITY;

  private constructor(
    o: ResolvedOptions,
    paths: DemoPaths,
    live: Map<string, Uint8Array[]>,
    hooks: DemoHooks,
    signal: AbortSignal | undefined,
    parts: {
      node: NodeHome;
      ref: ReferenceNode;
      store: RootStore;
      rpc?: { url: string; close(): Promise<void> };
    },
  ) {
    this.#o = o;
    this.#paths = paths;
    this.#hooks = hooks;
    this.#log = hooks.log ?? (() => {});
    this.#signal = signal;
    this.#node = parts.node;
    this.#ref = parts.ref;
    this.#store = parts.store;
    this.#rpc = parts.rpc;
    this.#maker = new BlockMaker(live, o.seed + 1);
    this.#interval = o.blockIntervalMs;
    this.#sub = parts.store.events$.subscribe((e) => this.#milestone(e));
  }

  /** Opens the node's home and RootStore (the migration not started), the reference and the RPC server. */
  static async start(
    o: ResolvedOptions,
    paths: DemoPaths,
    live: Map<string, Uint8Array[]>,
    hooks: DemoHooks,
    signal: AbortSignal | undefined,
  ): Promise<DemoRun> {
    const logger = o.logger ?? silentLogger;
    const node = await openNodeHome(paths.home);
    const closing: Array<() => Promise<void>> = [() => node.close()];
    try {
      const ref = await ReferenceNode.open(paths.reference, { worker: o.referenceWorker, logger });
      closing.push(() => ref.close());
      const store = await RootStore.open(node.v1, node.v2, {
        migrate: false,
        throttle: o.throttle,
        worker: o.worker ?? true,
        ...migrationTuning(o),
        logger,
      });
      closing.push(() => store.close());
      hooks.onRootStore?.(store);
      let rpc: { url: string; close(): Promise<void> } | undefined;
      if (o.rpcPort !== undefined) {
        const startRpcServer = await loadRpcServer();
        rpc = await startRpcServer(store, { host: o.rpcHost, port: o.rpcPort, logger });
        hooks.log?.(`JSON-RPC at ${rpc.url} (try migration_status)`);
        hooks.onRpc?.(rpc.url);
      }
      return new DemoRun(o, paths, live, hooks, signal, { node, ref, store, rpc });
    } catch (err) {
      // The open error is the one to report; what did open is closed on the way out.
      for (const close of closing.reverse()) await close().catch(() => {});
      throw err;
    }
  }

  #milestone(e: RootStoreEvent): void {
    const now = performance.now();
    const m = this.#m;
    if (e.type === 'started') {
      m.height = e.version;
      m.startedAt = now;
      this.#log(`background migration started at height ${e.version}`);
    } else if (e.type === 'restored') {
      m.restoredAt = now;
      this.#log(
        `restore done at height ${e.version} in ${fmtSec(now - m.startedAt)}; replaying the blocks since`,
      );
    } else if (e.type === 'switched') {
      m.switchedAt = now;
      this.#log(
        `switched to store v2 after height ${e.version}, ${fmtSec(now - m.startedAt)} after the start`,
      );
    } else if (e.type === 'failed') {
      m.failure = e.error;
    }
  }

  /** Blocks before the migration, during it until the switch, then `blocks` more on v2. */
  async commitPhases(): Promise<void> {
    const o = this.#o;
    const store = this.#store;
    this.#log(
      `node open at height ${store.latestVersion}; ${o.blocksBefore} blocks before the migration ` +
        `(${fmtInt(o.blockKeys)} changes every ${o.blockIntervalMs} ms)`,
    );
    for (let i = 0; i < o.blocksBefore; i++) await this.#commitBlock();
    if (this.#interval > o.blockIntervalMs) {
      this.#log(
        `a commit takes ${Math.round(this.#interval / o.headroom)} ms here: one block every ${this.#interval} ms ` +
          `(${o.headroom}x), so the node has time to migrate`,
      );
    }
    this.#migrating = true;
    store.startMigration();
    while (store.switchedAtVersion === undefined) {
      this.#assertNotFailed();
      await this.#commitBlock();
    }
    const switchedAtVersion = store.switchedAtVersion;
    this.#log(`committing ${o.blocks} blocks on store v2`);
    while (store.latestVersion < switchedAtVersion + o.blocks) {
      this.#assertNotFailed();
      await this.#commitBlock();
    }
    await Promise.all(this.#checks);
  }

  /**
   * Block time: the requested interval, or `headroom` times what a commit costs here if that
   * is more (a real chain's block time is many times its commit time), so the node has time
   * left to migrate on a slow or loaded machine. The cost is the median of recent commits,
   * leaving out those during the restore, which wait for it rather than cost more.
   */
  #pace(stage: DemoStage, latencyMs: number): void {
    const o = this.#o;
    if (o.headroom <= 0 || (stage === 'during' && this.#m.restoredAt === undefined)) return;
    this.#recent.push(latencyMs);
    if (this.#recent.length > 5) this.#recent.shift();
    const median = [...this.#recent].sort((a, b) => a - b)[Math.floor(this.#recent.length / 2)];
    this.#interval = Math.max(o.blockIntervalMs, Math.ceil(o.headroom * median));
  }

  async #commitBlock(): Promise<void> {
    this.#signal?.throwIfAborted();
    const wait = this.#lastStart + this.#interval - performance.now();
    if (wait > 0) await sleep(wait);
    this.#signal?.throwIfAborted();
    const start = performance.now();
    if (Number.isFinite(this.#lastStart)) this.#gaps.push(start - this.#lastStart);
    this.#lastStart = start;
    const { changeset } = this.#maker.next(this.#o.blockKeys);
    const ci = await this.#store.commit(changeset);
    const latencyMs = performance.now() - start;
    const switched = this.#store.switchedAtVersion;
    const stage: DemoStage =
      switched !== undefined && ci.version > switched ? 'after' : this.#migrating ? 'during' : 'before';
    this.#pace(stage, latencyMs);
    const block: DemoBlock = {
      version: ci.version,
      stage,
      mode: stage === 'after' ? 'v2' : 'v1',
      latencyMs,
      changes: this.#o.blockKeys,
      appHash: toHex(ci.appHash),
      appHashOk: true,
    };
    this.#blocks.push(block);
    const check = this.#ref.commit(ci.version, changeset).then((theirs) => {
      if (!equalBytes(ci.appHash, theirs)) {
        block.appHashOk = false;
        this.#mismatches.push({
          version: ci.version,
          appHash: block.appHash,
          referenceAppHash: toHex(theirs),
        });
      }
      this.#hooks.onBlock?.(block);
    });
    check.catch(() => {}); // awaited in commitPhases(); not an unhandled rejection meanwhile
    this.#checks.push(check);
  }

  #assertNotFailed(): void {
    const m = this.#m;
    if (m.failure !== undefined) throw m.failure;
    const running = performance.now() - m.startedAt;
    if (m.startedAt > 0 && running > this.#o.migrationTimeoutMs) {
      throw new StoreMigrateError(
        'ERR_MIGRATION_FAILED',
        `the migration has not caught up after ${fmtSec(running)} (migrated ${this.#store.migratedVersion}, ` +
          `latest ${this.#store.latestVersion}): blocks come faster than it replays them; ` +
          'lower --block-keys or raise --block-interval-ms',
      );
    }
  }

  /** Every height again, through the node's routing (v1 below the switch, v2 above). */
  async #checkEveryHeight(finalVersion: number): Promise<void> {
    this.#log(`checking the app hash of every height 1..${finalVersion} against the reference`);
    const referenceHashes = await this.#ref.appHashes(1, finalVersion);
    for (let h = 1; h <= finalVersion; h++) {
      const mine = (await this.#store.commitInfo(h)).appHash;
      const theirs = referenceHashes[h - 1];
      if (!equalBytes(mine, theirs) && !this.#mismatches.some((m) => m.version === h)) {
        this.#mismatches.push({ version: h, appHash: toHex(mine), referenceAppHash: toHex(theirs) });
      }
    }
    this.#mismatches.sort((a, b) => a.version - b.version);
  }

  async summary(generateMs: number): Promise<DemoSummary> {
    const o = this.#o;
    const store = this.#store;
    const m = this.#m;
    const finalVersion = store.latestVersion;
    const switchedAtVersion = store.switchedAtVersion!;
    await this.#checkEveryHeight(finalVersion);
    let leaves = 0;
    for (const name of store.v1.storeNames()) leaves += (await store.v1.immutable(name, m.height)).size;
    const restoreMs = (m.restoredAt ?? m.switchedAt ?? performance.now()) - m.startedAt;
    const blocks = this.#blocks;
    const byStage = (s: DemoStage) => blocks.filter((b) => b.stage === s);
    const latencies = (bs: DemoBlock[]) => summarizeLatencies(bs.map((b) => b.latencyMs));
    return {
      switchedAtVersion,
      finalVersion,
      appHashContinuity: this.#mismatches.length === 0,
      mismatches: this.#mismatches.slice(0, 10),
      appHash: toHex((await store.commitInfo(finalVersion)).appHash),
      commitLatencyMs: {
        ...latencies(blocks),
        before: latencies(byStage('before')),
        during: latencies(byStage('during')),
        after: latencies(byStage('after')),
        duringOverBefore: latencyRatio(latencies(byStage('during')), latencies(byStage('before'))),
      },
      migration: {
        height: m.height,
        leaves,
        durationMs: Math.round((m.switchedAt ?? performance.now()) - m.startedAt),
        restoreMs: Math.round(restoreMs),
        leavesPerSec: restoreMs > 0 ? Math.round((leaves * 1000) / restoreMs) : 0,
        syncedVersions: switchedAtVersion - m.height,
        throttle: o.throttle ?? null,
        thread: o.worker === false ? 'main' : 'worker',
        ...migrationTuning(o),
      },
      blocks: {
        before: byStage('before').length,
        during: byStage('during').length,
        after: byStage('after').length,
        changesPerBlock: o.blockKeys,
        intervalMs: o.blockIntervalMs,
        actualIntervalMs: { p50: roundedPercentile(this.#gaps, 50), max: roundedPercentile(this.#gaps, 100) },
      },
      state: {
        stores: store.v1.storeNames(),
        keys: o.keys,
        versions: o.versions,
        layout: o.layout,
        liveKeysAtEnd: this.#maker.liveKeys,
        generateMs: Math.round(generateMs),
      },
      paths: this.#paths,
      rpc: this.#rpc ? { url: this.#rpc.url } : null,
      durationMs: 0,
    };
  }

  async close(): Promise<void> {
    this.#sub.unsubscribe();
    // Closing on the way out: an error of the demo itself is the one to report.
    await this.#rpc?.close().catch(() => {});
    await this.#store.close().catch(() => {});
    await this.#node.close();
    await this.#ref.close();
  }
}
