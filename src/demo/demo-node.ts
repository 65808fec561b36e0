import { cpSync } from 'node:fs';
import type { Subscription } from 'rxjs';
import type { LevelDatabase } from '../db/kv-db.js';
import { openDb } from '../db/open-db.js';
import { equalBytes, toHex } from '../encoding/bytes.js';
import type { Changeset } from '../encoding/changeset.js';
import { StoreMigrateError } from '../errors.js';
import { type Logger, silentLogger } from '../logger.js';
import { MultiStoreV1 } from '../v1/multi-store-v1.js';
import {
  generateSyntheticState,
  type SyntheticStateProgress,
  syntheticStoreNames,
} from '../v1/synthetic-state.js';
import { type NodeHome, openNodeHome } from '../v2/root/node-home.js';
import { RootStore } from '../v2/root/root-store.js';
import { BlockMaker } from './block-maker.js';
import { type DemoPaths, prepareDemoHome } from './demo-home.js';
import { type LatencySummary, summarizeLatencies } from './latency-stats.js';

export interface DemoOptions {
  /** The node home; wiped first when an earlier demo made it. Default `./.store-migrate-demo`. */
  home?: string;
  /** Stores of the synthetic state. Default 4. */
  stores?: number;
  /** Live keys of the synthetic state. Default 200 000. */
  keys?: number;
  /** Versions of history written before the node starts. Default 10. */
  versions?: number;
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
  /** Seed of the synthetic state; the blocks use seed + 1. Default 1. */
  seed?: number;
  /** Serve JSON-RPC on this port during the run (0: any free port). */
  rpcPort?: number;
  /** RPC bind address. Default 127.0.0.1. */
  rpcHost?: string;
  logger?: Logger;
}

type Defaulted =
  | 'home'
  | 'stores'
  | 'keys'
  | 'versions'
  | 'blocksBefore'
  | 'blocks'
  | 'blockKeys'
  | 'blockIntervalMs'
  | 'seed';
type ResolvedOptions = Required<Pick<DemoOptions, Defaulted>> & Omit<DemoOptions, Defaulted>;

export const DEMO_DEFAULTS: Readonly<Required<Pick<DemoOptions, Defaulted>>> = {
  home: '.store-migrate-demo',
  stores: 4,
  keys: 200_000,
  versions: 10,
  blocksBefore: 10,
  blocks: 20,
  blockKeys: 500,
  blockIntervalMs: 200,
  seed: 1,
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
  commitLatencyMs: LatencySummary & { before: LatencySummary; during: LatencySummary; after: LatencySummary };
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
  };
  blocks: { before: number; during: number; after: number; changesPerBlock: number; intervalMs: number };
  state: { stores: string[]; keys: number; versions: number; liveKeysAtEnd: number; generateMs: number };
  paths: DemoPaths;
  rpc: { url: string } | null;
  durationMs: number;
}

/** What `src/rpc/rpc-server.ts` exports; loaded only when the demo serves RPC. */
interface RpcServer {
  url: string;
  port: number;
  close(): Promise<void>;
}
type StartRpcServer = (
  store: RootStore,
  options: { host?: string; port: number; logger?: Logger },
) => Promise<RpcServer>;

// A variable specifier: the demo builds whether or not the RPC server is there.
const RPC_MODULE = '../rpc/rpc-server.js';

async function loadRpcServer(): Promise<StartRpcServer> {
  let mod: { startRpcServer?: StartRpcServer };
  try {
    mod = await import(RPC_MODULE);
  } catch (err) {
    throw new StoreMigrateError(
      'ERR_NOT_IMPLEMENTED',
      'serving RPC needs the RPC server, which is not built',
      {
        cause: err,
      },
    );
  }
  if (typeof mod.startRpcServer !== 'function') {
    throw new StoreMigrateError('ERR_NOT_IMPLEMENTED', 'the RPC module has no startRpcServer');
  }
  return mod.startRpcServer;
}

function resolveOptions(options: DemoOptions): ResolvedOptions {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const o: ResolvedOptions = { ...DEMO_DEFAULTS, ...given };
  for (const name of ['stores', 'keys', 'versions', 'blockKeys'] as const) {
    if (!Number.isSafeInteger(o[name]) || o[name] < 1) {
      throw new StoreMigrateError('ERR_INVALID_PARAMS', `${name} must be a positive integer, not ${o[name]}`);
    }
  }
  for (const name of ['blocksBefore', 'blocks', 'blockIntervalMs'] as const) {
    if (!Number.isSafeInteger(o[name]) || o[name] < 0) {
      throw new StoreMigrateError(
        'ERR_INVALID_PARAMS',
        `${name} must be a non-negative integer, not ${o[name]}`,
      );
    }
  }
  return o;
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
    });
    await generateSyntheticState(
      ms,
      { stores: o.stores, keys: o.keys, versions: o.versions, seed: o.seed },
      onProgress,
    );
    const live = new Map<string, Uint8Array[]>();
    for (const store of ms.storeNames()) {
      const keys: Uint8Array[] = [];
      for (const [key] of ms.tree(store).getImmutable(ms.latestVersion).iterate()) keys.push(key);
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
  const logger = o.logger ?? silentLogger;
  const t0 = performance.now();
  const paths = prepareDemoHome(o.home);

  log(
    `generating store v1: ${o.stores} stores, ${fmtInt(o.keys)} keys, ${o.versions} versions of history in ${paths.v1}`,
  );
  const genStart = performance.now();
  const live = await generate(paths.v1, o, hooks.onGenerate);
  const generateMs = performance.now() - genStart;
  // The reference is taken before anything runs on the node; the node's db is closed.
  cpSync(paths.v1, paths.reference, { recursive: true });
  log(`generated in ${fmtSec(generateMs)}; reference copy at ${paths.reference}`);

  let node: NodeHome | undefined;
  let refDb: LevelDatabase | undefined;
  let rs: RootStore | undefined;
  let rpc: RpcServer | undefined;
  const subs: Subscription[] = [];
  try {
    node = await openNodeHome(paths.home);
    refDb = await openDb(paths.reference, { createIfMissing: false });
    const reference = await MultiStoreV1.open(refDb);
    const store = await RootStore.open(node.v1, node.v2, { migrate: false, throttle: o.throttle, logger });
    rs = store;
    hooks.onRootStore?.(store);
    if (o.rpcPort !== undefined) {
      const startRpcServer = await loadRpcServer();
      rpc = await startRpcServer(store, { host: o.rpcHost, port: o.rpcPort, logger });
      log(`JSON-RPC at ${rpc.url} (try migration_status)`);
    }

    // The migration's milestones, timed as they happen.
    let failure: StoreMigrateError | undefined;
    let height = 0;
    let startedAt = 0;
    let restoredAt: number | undefined;
    let switchedAt: number | undefined;
    subs.push(
      store.events$.subscribe((e) => {
        const now = performance.now();
        if (e.type === 'started') {
          height = e.version;
          startedAt = now;
          log(`background migration started at height ${e.version}`);
        } else if (e.type === 'restored') {
          restoredAt = now;
          log(
            `restore done at height ${e.version} in ${fmtSec(now - startedAt)}; replaying the blocks since`,
          );
        } else if (e.type === 'switched') {
          switchedAt = now;
          log(`switched to store v2 after height ${e.version}, ${fmtSec(now - startedAt)} after the start`);
        } else if (e.type === 'failed') {
          failure = e.error;
        }
      }),
    );

    const blocks: DemoBlock[] = [];
    const mismatches: DemoMismatch[] = [];
    const maker = new BlockMaker(live, o.seed + 1);
    let migrating = false;
    let lastStart = Number.NEGATIVE_INFINITY;
    const commitBlock = async (): Promise<void> => {
      const wait = lastStart + o.blockIntervalMs - performance.now();
      if (wait > 0) await sleep(wait);
      lastStart = performance.now();
      const { changeset } = maker.next(o.blockKeys);
      const ci = await store.commit(changeset);
      const latencyMs = performance.now() - lastStart;
      const ok = await checkAgainst(reference, changeset, ci.version, ci.appHash, mismatches);
      const switched = store.switchedAtVersion;
      const stage: DemoStage =
        switched !== undefined && ci.version > switched ? 'after' : migrating ? 'during' : 'before';
      const block: DemoBlock = {
        version: ci.version,
        stage,
        mode: stage === 'after' ? 'v2' : 'v1',
        latencyMs,
        changes: o.blockKeys,
        appHash: toHex(ci.appHash),
        appHashOk: ok,
      };
      blocks.push(block);
      hooks.onBlock?.(block);
    };
    const assertNotFailed = () => {
      if (failure !== undefined) throw failure;
    };

    log(
      `node open at height ${store.latestVersion}; ${o.blocksBefore} blocks before the migration ` +
        `(${fmtInt(o.blockKeys)} changes every ${o.blockIntervalMs} ms)`,
    );
    for (let i = 0; i < o.blocksBefore; i++) await commitBlock();

    migrating = true;
    store.startMigration();
    while (store.switchedAtVersion === undefined) {
      assertNotFailed();
      await commitBlock();
    }
    const switchedAtVersion = store.switchedAtVersion;
    log(`committing ${o.blocks} blocks on store v2`);
    while (store.latestVersion < switchedAtVersion + o.blocks) {
      assertNotFailed();
      await commitBlock();
    }
    const finalVersion = store.latestVersion;

    // Every height again, through the node's routing (v1 below the switch, v2 above).
    log(`checking the app hash of every height 1..${finalVersion} against the reference`);
    for (let h = 1; h <= finalVersion; h++) {
      const mine = (await store.commitInfo(h)).appHash;
      const theirs = (await reference.getCommitInfo(h)).appHash;
      if (!equalBytes(mine, theirs) && !mismatches.some((m) => m.version === h)) {
        mismatches.push({ version: h, appHash: toHex(mine), referenceAppHash: toHex(theirs) });
      }
    }
    mismatches.sort((a, b) => a.version - b.version);

    let leaves = 0;
    for (const name of store.v1.storeNames()) leaves += (await store.v1.immutable(name, height)).size;
    const restoreMs = (restoredAt ?? switchedAt ?? performance.now()) - startedAt;
    const byStage = (s: DemoStage) =>
      summarizeLatencies(blocks.filter((b) => b.stage === s).map((b) => b.latencyMs));
    const summary: DemoSummary = {
      switchedAtVersion,
      finalVersion,
      appHashContinuity: mismatches.length === 0,
      mismatches: mismatches.slice(0, 10),
      appHash: toHex((await store.commitInfo(finalVersion)).appHash),
      commitLatencyMs: {
        ...summarizeLatencies(blocks.map((b) => b.latencyMs)),
        before: byStage('before'),
        during: byStage('during'),
        after: byStage('after'),
      },
      migration: {
        height,
        leaves,
        durationMs: Math.round((switchedAt ?? performance.now()) - startedAt),
        restoreMs: Math.round(restoreMs),
        leavesPerSec: restoreMs > 0 ? Math.round((leaves * 1000) / restoreMs) : 0,
        syncedVersions: switchedAtVersion - height,
        throttle: o.throttle ?? null,
      },
      blocks: {
        before: blocks.filter((b) => b.stage === 'before').length,
        during: blocks.filter((b) => b.stage === 'during').length,
        after: blocks.filter((b) => b.stage === 'after').length,
        changesPerBlock: o.blockKeys,
        intervalMs: o.blockIntervalMs,
      },
      state: {
        stores: store.v1.storeNames(),
        keys: o.keys,
        versions: o.versions,
        liveKeysAtEnd: maker.liveKeys,
        generateMs: Math.round(generateMs),
      },
      paths,
      rpc: rpc ? { url: rpc.url } : null,
      durationMs: 0,
    };
    summary.durationMs = Math.round(performance.now() - t0);
    return summary;
  } finally {
    for (const s of subs) s.unsubscribe();
    await rpc?.close().catch(() => {});
    await rs?.close().catch(() => {});
    await node?.close();
    await refDb?.close().catch(() => {});
  }
}

/** Commits the block on the reference too and compares the app hashes; a difference is recorded. */
async function checkAgainst(
  reference: MultiStoreV1,
  changeset: Changeset,
  version: number,
  appHash: Uint8Array,
  mismatches: DemoMismatch[],
): Promise<boolean> {
  const ref = await reference.commit(changeset, version);
  if (equalBytes(ref.appHash, appHash)) return true;
  mismatches.push({ version, appHash: toHex(appHash), referenceAppHash: toHex(ref.appHash) });
  return false;
}
