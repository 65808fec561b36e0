import type { Observable, Subscription } from 'rxjs';
import type { LevelDatabase } from '../db/kv-db.js';
import { KvDb } from '../db/kv-db.js';
import { readU64be, u64be } from '../encoding/byte-writer.js';
import { equalBytes, toHex, utf8 } from '../encoding/bytes.js';
import type { Changeset, VersionedChangeset } from '../encoding/changeset.js';
import { StoreMigrateError } from '../errors.js';
import { type Logger, silentLogger } from '../logger.js';
import { type CommitInfo, isTreeless } from '../multistore/commit-info.js';
import type { SnapshotItem } from '../snapshots/snapshot-item.js';
import type { SnapshotsManager } from '../snapshots/snapshots-manager.js';
import { MigrationStream } from '../stream/migration-stream.js';
import type { RestoredLeaf, StateCommitment } from '../v2/commitment/state-commitment.js';
import { V2Keys } from '../v2/home/v2-keys.js';
import type { RestoreLeaf, StateStorage } from '../v2/storage/state-storage.js';
import { ChangesetBuffer } from './changeset-buffer.js';
import { HandoffSpill } from './handoff-spill.js';
import { Pacer } from './pacer.js';
import { type MigrationPhase, type MigrationProgress, ProgressTracker } from './progress.js';
import { V1VersionCopy, type V1Writes } from './v1-version-copy.js';

export interface MigrationManagerOptions {
  /** The v2 database that holds the migration's own keys (`m/...`). */
  db: LevelDatabase | KvDb;
  snapshots: SnapshotsManager;
  stateStorage: StateStorage;
  /** Without it only StateStorage is migrated. */
  stateCommitment?: StateCommitment;
  logger?: Logger;
  /** Queue size of the snapshot stream between export and restore. */
  bufferSize?: number;
  /** Maximum leaves per second during the restore. */
  throttle?: number;
  /** Also fill StateStorage with the last K versions (from IAVL diffs of v1). */
  history?: number;
  /** Restore write batches (and so checkpoints) of about this many bytes. Default 4 MB. */
  batchBytes?: number;
  /**
   * Sync only versions that were confirmed with confirm() (RootStore buffers a changeset
   * before its v1 commit and confirms it after). Default false: every buffered version counts.
   */
  confirmCommits?: boolean;
  /**
   * Sync takes each version's tree nodes from v1 as v1 wrote them, where the trees allow it
   * (node-key stores restored with v1's node keys), instead of replaying the changeset into
   * StateCommitment. Default true; false always replays.
   */
  copyFromV1?: boolean;
  /**
   * A directory for v1's handed-over writes that do not fit the sync's memory budget
   * (HandoffSpill; the migration worker uses `v2.handoff/` beside v2). Emptied when the
   * manager opens, removed when it closes. Default: none, such versions are read from v1.
   */
  handoffSpillDir?: string;
  /** Bytes of v1's handed-over writes the sync keeps in memory (default 48 MiB); the rest go to the spill. */
  handoffBytes?: number;
}

/** How sync made each StateCommitment version since the manager opened. */
export interface SyncCounts {
  /** Taken from v1 node for node. */
  copied: number;
  /** Of those, taken from v1's commit as RootStore handed it over (confirm()), not read back. */
  handedOver: number;
  /** Rebuilt by replaying the changeset. */
  replayed: number;
}

export interface MigrateResult {
  version: number;
  appHash: Uint8Array | undefined;
  stores: Array<{ name: string; rootHash: Uint8Array | undefined; leaves: number; nodes: number }>;
  leaves: number;
  nodes: number;
  durationMs: number;
  resumed: boolean;
}

const HEIGHT_KEY = V2Keys.height;
const MIGRATED_KEY = V2Keys.migrated;
const SOURCE_KEY = V2Keys.source;
const FAILED_KEY = V2Keys.failed;

/** What a restore of one version has to do (MigrationManager.#plan). */
interface RestorePlan {
  version: number;
  counts: Array<{ name: string; leaves: number }>;
  leavesTotal: number;
  /** v1's memory stores (empty commit id), kept in StateCommitment's app hash. */
  treelessStores: string[];
  /** The first height StateStorage carries (history), `version` without history. */
  ssBase: number;
  scNeeded: boolean;
  ssNeeded: boolean;
  resumed: boolean;
}

function isStreamClosed(err: unknown): boolean {
  return err instanceof StoreMigrateError && err.code === 'ERR_STREAM_CLOSED';
}

/**
 * Moves store v1 into store v2 while the node keeps committing, after cosmos store/v2's
 * migration manager: migrate(H) exports v1 at H and restores StateCommitment and
 * StateStorage in parallel; changesets committed meanwhile arrive on an RxJS channel and are
 * buffered on disk; sync() replays them in order. Unlike the original it resumes after a
 * crash (checkpoints in `m/` keys and in each restore), wakes on new changesets instead of
 * polling, reports progress, and can be throttled or paused.
 */
export class MigrationManager {
  readonly #kv: KvDb;
  readonly #snapshots: SnapshotsManager;
  readonly #ss: StateStorage;
  readonly #sc: StateCommitment | undefined;
  readonly #log: Logger;
  readonly #bufferSize: number;
  readonly #history: number;
  readonly #batchBytes: number | undefined;
  readonly #pacer: Pacer;
  readonly #tracker = new ProgressTracker();
  readonly buffer: ChangesetBuffer;
  readonly progress$: Observable<MigrationProgress>;
  #migrated = 0;
  #height = 0;
  #stop = new AbortController();
  #subs: Subscription[] = [];
  #error: unknown;
  #listeners = new Set<(version: number) => void>();
  readonly #confirmCommits: boolean;
  readonly #copy: V1VersionCopy | undefined;
  readonly #spill: HandoffSpill | undefined;
  readonly #counts = { copied: 0, replayed: 0 };
  #confirmed = 0;
  #confirmWaiters: Array<() => void> = [];
  #failure: Promise<never>;
  #rejectFailure: (err: unknown) => void = () => {};

  private constructor(options: MigrationManagerOptions, spill: HandoffSpill | undefined) {
    this.#kv = options.db instanceof KvDb ? options.db : new KvDb(options.db);
    this.#snapshots = options.snapshots;
    this.#ss = options.stateStorage;
    this.#sc = options.stateCommitment;
    this.#log = (options.logger ?? silentLogger).child({ component: 'migration' });
    this.#bufferSize = options.bufferSize ?? 1024;
    this.#history = Math.max(0, options.history ?? 0);
    this.#batchBytes = options.batchBytes;
    this.#confirmCommits = options.confirmCommits ?? false;
    this.#spill = spill;
    this.#copy =
      options.copyFromV1 === false
        ? undefined
        : new V1VersionCopy(options.snapshots.source, this.#log, {
            spill,
            handoffBytes: options.handoffBytes,
          });
    this.#failure = new Promise<never>((_, reject) => {
      this.#rejectFailure = reject;
    });
    // Observed by whoever races it against the work; until then it must not count as unhandled.
    this.#failure.catch(() => {});
    this.#pacer = new Pacer(options.throttle, this.#stop.signal);
    this.buffer = new ChangesetBuffer(this.#kv);
    this.progress$ = this.#tracker.progress$;
  }

  /**
   * A migration manager over v2 (`options.db`), with its persisted state loaded: the height,
   * the migrated version and the buffered range.
   * @example
   * const manager = await MigrationManager.open({ db: v2, snapshots, stateStorage: ss, stateCommitment: sc });
   * await manager.migrate(v1.latestVersion);
   */
  static async open(options: MigrationManagerOptions): Promise<MigrationManager> {
    const log = (options.logger ?? silentLogger).child({ component: 'migration' });
    let spill: HandoffSpill | undefined;
    if (options.handoffSpillDir !== undefined && options.copyFromV1 !== false) {
      // Only a cache: without it the sync reads those versions from v1.
      spill = await HandoffSpill.open(options.handoffSpillDir, log).catch((err: unknown) => {
        log.warn(
          { err, dir: options.handoffSpillDir },
          'no handoff spill: the sync reads its backlog from v1',
        );
        return undefined;
      });
    }
    const m = new MigrationManager(options, spill);
    await m.#load();
    return m;
  }

  async #load(): Promise<void> {
    await this.buffer.open();
    const h = await this.#kv.get(HEIGHT_KEY);
    const m = await this.#kv.get(MIGRATED_KEY);
    this.#height = h === undefined ? 0 : readU64be(h, 0);
    this.#migrated = m === undefined ? 0 : readU64be(m, 0);
    this.#tracker.update({ migratedVersion: this.#migrated, targetVersion: this.#height });
  }

  /** The height the migration exports at (0 before it started). */
  get height(): number {
    return this.#height;
  }

  /** The last version migrated into v2 (restored, then each synced block). */
  get migratedVersion(): number {
    return this.#migrated;
  }

  /** The StateCommitment the migration restores into, if it has one. */
  get stateCommitment(): StateCommitment | undefined {
    return this.#sc;
  }

  get phase(): MigrationPhase {
    return this.#tracker.current.phase;
  }

  get progress(): MigrationProgress {
    return this.#tracker.current;
  }

  /** The error that stopped the migration, if any. */
  get error(): unknown {
    return this.#error;
  }

  pause(): void {
    this.#pacer.pause();
    this.#log.info('paused');
  }

  resume(): void {
    this.#pacer.resume();
    this.#log.info('resumed');
  }

  get paused(): boolean {
    return this.#pacer.paused;
  }

  setThrottle(leavesPerSecond: number | undefined): void {
    this.#pacer.setRate(leavesPerSecond);
  }

  /** Called after each version sync makes durable. */
  onMigrated(listener: (version: number) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Runs the whole migration in the background of a node: buffers `changesets$` from now
   * on, migrates `version` (or resumes the one in progress), then syncs until `done$` emits.
   * Resolves when sync stops; rejects with the error that stopped the migration.
   */
  async start(
    version: number,
    changesets$: Observable<VersionedChangeset>,
    done$: Observable<void>,
  ): Promise<void> {
    // The height the buffer continues from when it is empty (opened state: no await needed).
    const ready = Promise.resolve(this.#height > 0 ? this.#height : version);
    this.#subs.push(
      changesets$.subscribe({
        next: (vcs) => {
          ready.then((height) => this.buffer.write(vcs, height)).catch((err) => this.#fail(err));
        },
      }),
      done$.subscribe(() =>
        this.#stop.abort(new StoreMigrateError('ERR_STREAM_CLOSED', 'migration stopped')),
      ),
    );
    try {
      const height = await ready;
      if (this.#migrated < height) await this.migrate(height);
      await this.sync();
      if (this.#error !== undefined) throw this.#error;
    } catch (err) {
      if (this.#stop.signal.aborted && this.#error === undefined && isStreamClosed(err)) return;
      this.#fail(err);
      throw this.#error;
    } finally {
      this.#log.info(
        { ...this.syncCounts, migratedVersion: this.#migrated },
        'sync ended: StateCommitment versions copied from v1 and replayed',
      );
      // Whoever awaited start() sees the final progress (the last migrated version) at once.
      this.#tracker.flush();
    }
  }

  #fail(err: unknown): void {
    if (this.#error !== undefined) return;
    this.#error = err;
    this.#rejectFailure(err);
    this.#tracker.update({ phase: 'failed' });
    this.#log.error({ err }, 'migration failed');
    this.#stop.abort(err);
    // Remembered on disk, so the next start knows this v2 state cannot be trusted to resume.
    const e =
      err instanceof StoreMigrateError
        ? { code: err.code, message: err.message }
        : { code: 'ERR_MIGRATION_FAILED', message: String(err) };
    this.#kv.put(FAILED_KEY, utf8(JSON.stringify(e))).catch((writeErr: unknown) => {
      // Without the record the next start may resume from this state; the buffer and roots
      // are still checked then, but say so.
      this.#log.warn({ err: writeErr }, 'could not record the failure in v2 (V2Keys.failed)');
    });
  }

  /** The failure recorded by an earlier run, if any. */
  async recordedFailure(): Promise<{ code: string; message: string } | undefined> {
    const raw = await this.#kv.get(FAILED_KEY);
    if (raw === undefined) return undefined;
    try {
      return JSON.parse(new TextDecoder().decode(raw));
    } catch {
      return { code: 'ERR_MIGRATION_FAILED', message: 'unreadable failure record' };
    }
  }

  /** Each synced version must hash as v1 committed it; anything else is a broken changeset. */
  async #checkAgainstV1(version: number, appHash: Uint8Array): Promise<void> {
    let expected: Uint8Array;
    try {
      expected = (await this.#snapshots.source.getCommitInfo(version)).appHash;
    } catch (err) {
      if (
        err instanceof StoreMigrateError &&
        (err.code === 'ERR_VERSION_NOT_FOUND' || err.code === 'ERR_VERSION_PRUNED')
      )
        return;
      throw err;
    }
    if (!equalBytes(expected, appHash)) {
      throw new StoreMigrateError(
        'ERR_HASH_MISMATCH',
        `version ${version} replayed into v2 hashes to ${toHex(appHash)}, but v1 committed ${toHex(expected)}`,
        { details: { version } },
      );
    }
  }

  /**
   * Resolves once changeset `version` is durable in the buffer; rejects if the migration has
   * failed (then the caller goes on without it).
   */
  persisted(version: number): Promise<void> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    return Promise.race([this.buffer.waitFor(version), this.#failure]);
  }

  /**
   * v1 committed `version`: sync may apply it. `writes`, the puts of v1's batch for it, spare
   * the sync reading its new nodes back from v1 (V1VersionCopy.offer).
   */
  confirm(version: number, writes?: V1Writes): void {
    if (writes !== undefined && version > this.#confirmed) this.#copy?.offer(version, writes);
    if (version <= this.#confirmed) return;
    this.#confirmed = version;
    for (const w of this.#confirmWaiters.splice(0)) w();
  }

  /** v1 did not commit `version` after all: drop it (and anything after it) from the buffer. */
  async discard(version: number): Promise<void> {
    await this.buffer.deleteFrom(version);
  }

  async #waitConfirmed(version: number, signal: AbortSignal): Promise<void> {
    while (this.#confirmCommits && this.#confirmed < version) {
      if (signal.aborted) throw signal.reason;
      await new Promise<void>((resolve) => {
        const done = () => {
          signal.removeEventListener('abort', done);
          resolve();
        };
        this.#confirmWaiters.push(done);
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }

  /**
   * Checks that this v2 directory was migrated from this v1: the app hash v1 has at the
   * migration height must be the one recorded when the migration started.
   */
  async verifySource(): Promise<void> {
    if (this.#height === 0) return;
    const saved = await this.#kv.get(SOURCE_KEY);
    if (saved === undefined) return;
    let ci: CommitInfo;
    try {
      ci = await this.#snapshots.source.getCommitInfo(this.#height);
    } catch (err) {
      // v1 no longer has that height (pruned after the switch): nothing to compare.
      if (
        err instanceof StoreMigrateError &&
        (err.code === 'ERR_VERSION_PRUNED' || err.code === 'ERR_VERSION_NOT_FOUND')
      )
        return;
      throw err;
    }
    if (!equalBytes(saved, ci.appHash)) {
      throw new StoreMigrateError(
        'ERR_WRONG_CHAIN',
        `this v2 directory belongs to another v1: at height ${this.#height} it recorded app hash ${toHex(saved)}, this v1 has ${toHex(ci.appHash)}`,
      );
    }
  }

  /** Fingerprint of v1 at the migration height, so a v2 directory is never paired with another chain. */
  async #checkSource(height: number): Promise<void> {
    const ci = await this.#snapshots.source.getCommitInfo(height);
    const saved = await this.#kv.get(SOURCE_KEY);
    if (saved === undefined) {
      await this.#kv.put(SOURCE_KEY, ci.appHash);
    } else if (!equalBytes(saved, ci.appHash)) {
      throw new StoreMigrateError(
        'ERR_WRONG_CHAIN',
        `this v2 directory was migrated from a v1 whose app hash at ${height} is ${toHex(saved)}, not ${toHex(ci.appHash)}`,
      );
    }
  }

  /**
   * Restores StateCommitment and StateStorage at `version` from v1. Resumes a restore of the
   * same version that was interrupted; refuses to mix two heights.
   * @example
   * const r = await manager.migrate(v1.latestVersion); // r.appHash equals v1's at that height
   */
  async migrate(version: number): Promise<MigrateResult> {
    const started = performance.now();
    await this.#claimHeight(version);
    const plan = await this.#plan(version);
    this.#tracker.update({
      phase: 'restoring',
      leavesTotal: plan.leavesTotal,
      leavesDone: 0,
      nodes: 0,
      bytes: 0,
      targetVersion: version,
    });
    this.#log.info(
      {
        version,
        leavesTotal: plan.leavesTotal,
        scNeeded: plan.scNeeded,
        ssNeeded: plan.ssNeeded,
        ssBase: plan.ssBase,
      },
      'restore starting',
    );
    const stats = new Map(plan.counts.map((c) => [c.name, { name: c.name, leaves: c.leaves, nodes: 0 }]));
    const scResult = await this.#runRestore(plan, stats);
    const ci = scResult ?? (this.#sc ? await this.#sc.getCommitInfo(version) : undefined);
    if (ci) await this.#checkAgainstV1(version, ci.appHash);
    await this.#setMigrated(version);
    this.#tracker.update({ phase: 'syncing', leavesDone: plan.leavesTotal, store: undefined });
    const result: MigrateResult = {
      version,
      appHash: ci?.appHash,
      stores: [...stats.values()].map((s) => ({
        ...s,
        rootHash: ci?.stores.find((x) => x.name === s.name)?.hash,
      })),
      leaves: plan.leavesTotal,
      nodes: [...stats.values()].reduce((a, s) => a + s.nodes, 0),
      durationMs: Math.round(performance.now() - started),
      resumed: plan.resumed,
    };
    this.#log.info(
      { version, leaves: result.leaves, durationMs: result.durationMs, resumed: plan.resumed },
      'restore done',
    );
    return result;
  }

  /** Records the height this v2 directory migrates (once), after checking v1 is the one it belongs to. */
  async #claimHeight(version: number): Promise<void> {
    if (this.#height !== 0 && this.#height !== version) {
      throw new StoreMigrateError(
        'ERR_MIGRATION_RUNNING',
        `a migration at height ${this.#height} is already in this v2 directory; cannot migrate ${version}`,
      );
    }
    await this.#checkSource(version);
    if (this.#height === 0) {
      await this.#kv.put(HEIGHT_KEY, u64be(version));
      this.#height = version;
    }
  }

  /** What a restore of `version` has to do, given what v2 already holds. */
  async #plan(version: number): Promise<RestorePlan> {
    const source = this.#snapshots.source;
    const counts = await this.#snapshots.leafCounts(version);
    const sc = this.#sc;
    const scNeeded = sc !== undefined && sc.latestVersion < version;
    const ssNeeded = this.#ss.latestVersion < version;
    const ssBase = await this.#historyBase(version);
    return {
      version,
      counts,
      leavesTotal: counts.reduce((a, c) => a + c.leaves, 0),
      treelessStores: (await source.getCommitInfo(version)).stores.filter(isTreeless).map((s) => s.name),
      ssBase,
      scNeeded,
      ssNeeded,
      resumed:
        (sc !== undefined && !scNeeded) || !ssNeeded || (await this.#kv.get(V2Keys.scRestore)) !== undefined,
    };
  }

  /**
   * Runs the restore's tasks side by side: the export of v1 into a bounded stream, the
   * StateCommitment restore reading it (forwarding leaves to StateStorage), and the history
   * backfill. The first failure cancels the rest and is thrown (the cause, not the streams
   * that closed because of it). Returns StateCommitment's commit info when it restored one.
   */
  async #runRestore(
    plan: RestorePlan,
    stats: Map<string, { name: string; leaves: number; nodes: number }>,
  ): Promise<(CommitInfo & { resumed: boolean }) | undefined> {
    let scResult: (CommitInfo & { resumed: boolean }) | undefined;
    const tasks: Array<Promise<unknown>> = [];
    const cancels: Array<() => void> = [];
    if (plan.scNeeded || (plan.ssNeeded && plan.ssBase === plan.version)) {
      const stream = new MigrationStream<SnapshotItem>(this.#bufferSize);
      cancels.push(() => stream.cancel('migration stopped'));
      tasks.push(this.#exportTask(plan.version, stream, stats));
      const leaves =
        plan.ssNeeded && plan.ssBase === plan.version
          ? new MigrationStream<RestoredLeaf>(this.#bufferSize)
          : undefined;
      if (leaves) {
        cancels.push(() => leaves.cancel('migration stopped'));
        tasks.push(this.#ssRestoreTask(plan.version, leaves));
      }
      if (plan.scNeeded) {
        tasks.push(this.#scRestoreTask(plan, stream, leaves).then((r) => (scResult = r)));
      } else {
        // Only StateStorage needs the leaves: drain the stream into it.
        tasks.push(this.#forwardLeaves(stream, leaves!));
      }
    }
    if (plan.ssNeeded && plan.ssBase < plan.version)
      tasks.push(this.#restoreHistory(plan.ssBase, plan.version));
    const failures = (await Promise.allSettled(tasks))
      .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
      .map((r) => r.reason);
    if (failures.length > 0) {
      for (const c of cancels) c();
      throw failures.find((e) => !isStreamClosed(e)) ?? failures[0];
    }
    return scResult;
  }

  /** The export of v1 at `version` into `stream`, with progress and each store's node count. */
  #exportTask(
    version: number,
    stream: MigrationStream<SnapshotItem>,
    stats: Map<string, { name: string; leaves: number; nodes: number }>,
  ): Promise<void> {
    let leavesDone = 0;
    let bytes = 0;
    return this.#snapshots
      .createMigration(version, stream, {
        signal: this.#stop.signal,
        // With StateCommitment the restored roots are compared with v1's afterwards.
        verifyNodes: this.#sc === undefined,
        onStore: (name) => this.#tracker.update({ store: name }),
        // Progress only: throttling happens where leaves are written, so a resume
        // skips through restored parts at full speed.
        pace: (n, b) => {
          leavesDone += n;
          bytes += b;
          this.#tracker.update({ leavesDone, bytes });
        },
      })
      .then((s) => {
        for (const st of s.stores) stats.get(st.name)!.nodes = st.nodes;
        this.#tracker.update({ nodes: s.nodes });
      });
  }

  /** StateStorage restored from the leaves StateCommitment forwards. */
  #ssRestoreTask(version: number, leaves: MigrationStream<RestoredLeaf>): Promise<unknown> {
    return this.#ss
      .restore(version, leaves as AsyncIterable<RestoreLeaf>, {
        signal: this.#stop.signal,
        batchBytes: this.#batchBytes,
      })
      .catch((err) => {
        leaves.cancel('StateStorage restore failed');
        throw err;
      });
  }

  /** StateCommitment restored from the export, throttled by the pacer. */
  #scRestoreTask(
    plan: RestorePlan,
    stream: MigrationStream<SnapshotItem>,
    leaves: MigrationStream<RestoredLeaf> | undefined,
  ): Promise<CommitInfo & { resumed: boolean }> {
    return this.#sc!.restore(plan.version, stream, {
      leaves,
      treelessStores: plan.treelessStores,
      signal: this.#stop.signal,
      batchBytes: this.#batchBytes,
      pace: (n) => this.#pacer.step(n),
    }).catch((err) => {
      // It may fail before reading anything (its checkpoint, its first writes): release the
      // export and StateStorage, which would otherwise wait on the streams forever.
      stream.cancel('StateCommitment restore failed');
      leaves?.closeWithError(err);
      throw err;
    });
  }

  async #forwardLeaves(
    stream: MigrationStream<SnapshotItem>,
    leaves: MigrationStream<RestoredLeaf>,
  ): Promise<void> {
    let store = '';
    let n = 0;
    try {
      for await (const item of stream) {
        if (item.kind === 'store') {
          store = item.name;
        } else if (item.height === 0) {
          await leaves.writeMsg({ store, key: item.key, value: item.value ?? new Uint8Array(0) });
          if (++n % 64 === 0) await this.#pacer.step(64);
        }
      }
      leaves.close();
    } catch (err) {
      leaves.closeWithError(err);
      throw err;
    }
  }

  /**
   * The first height of the history to carry: up to K - 1 heights below `version`, as long as
   * they can be read (pruning may have deleted the trees of some heights, not their commit
   * info) and hold every store `version` has (a store upgrade in between ends the run).
   */
  async #historyBase(version: number): Promise<number> {
    if (this.#history <= 1) return version;
    const source = this.#snapshots.source;
    const readable = new Set(await source.versions());
    const stores = source.storeNames();
    let base = version;
    while (base > version - this.#history + 1 && readable.has(base - 1)) {
      const names = new Set((await source.getCommitInfo(base - 1)).stores.map((s) => s.name));
      if (!stores.every((s) => names.has(s))) break;
      base--;
    }
    return base;
  }

  /** StateStorage with history: the full state at `base`, then v1's diffs up to `version`. */
  async #restoreHistory(base: number, version: number): Promise<void> {
    const source = this.#snapshots.source;
    const ss = this.#ss;
    const stores = source.storeNames();
    if (ss.latestVersion < base) {
      const pacer = this.#pacer;
      async function* leavesAt(): AsyncGenerator<RestoreLeaf> {
        let n = 0;
        for (const store of stores) {
          for (const [key, value] of (await source.immutable(store, base)).iterate()) {
            yield { store, key, value };
            if (++n % 64 === 0) await pacer.step(64);
          }
        }
      }
      await ss.restore(base, leavesAt(), { signal: this.#stop.signal, batchBytes: this.#batchBytes });
    }
    for (let v = ss.latestVersion + 1; v <= version; v++) {
      await source.getCommitInfo(v);
      const changes = stores.map((store) => ({ store, pairs: source.tree(store).diff(v - 1, v) }));
      await ss.applyChangeset(v, { changes });
    }
  }

  async #setMigrated(version: number): Promise<void> {
    await this.#kv.put(MIGRATED_KEY, u64be(version));
    this.#migrated = version;
    this.#tracker.update({ migratedVersion: version });
    for (const l of this.#listeners) l(version);
  }

  /**
   * Replays buffered changesets from migratedVersion + 1 on, into StateCommitment and
   * StateStorage, in order. It waits for the next version without polling, and stops when
   * `done$` emits or close() is called. migratedVersion moves only after both writes are
   * durable; after a crash each side skips what it already has.
   */
  async sync(): Promise<void> {
    const signal = this.#stop.signal;
    this.#tracker.update({ phase: 'syncing' });
    for (;;) {
      if (signal.aborted) return;
      const v = this.#migrated + 1;
      try {
        await this.buffer.waitFor(v, signal);
        await this.#waitConfirmed(v, signal);
      } catch (err) {
        if (signal.aborted && this.#error === undefined) return;
        throw err;
      }
      await this.#pacer.gate();
      const cs = await this.buffer.read(v);
      if (cs === undefined) {
        throw new StoreMigrateError('ERR_CHANGESET_GAP', `buffered changeset ${v} is missing`, {
          details: { version: v },
        });
      }
      if (this.#sc && this.#sc.latestVersion < v) await this.#commitSc(this.#sc, v, cs);
      if (this.#ss.latestVersion < v) await this.#ss.applyChangeset(v, cs);
      await this.#setMigrated(v);
      this.#tracker.update({
        targetVersion: Math.max(this.#tracker.current.targetVersion, this.buffer.last),
      });
    }
  }

  /**
   * How sync made StateCommitment's versions since this manager opened.
   * @example
   * const { copied, replayed } = manager.syncCounts;
   */
  get syncCounts(): SyncCounts {
    return { ...this.#counts, handedOver: this.#copy?.handedOver ?? 0 };
  }

  /** One synced version into StateCommitment: copied from v1 where it can be, else replayed. */
  async #commitSc(sc: StateCommitment, v: number, cs: Changeset): Promise<void> {
    const committed = this.#confirmCommits ? this.#confirmed : this.buffer.last;
    if (committed > v) this.#copy?.prefetch(v + 1, committed, sc);
    const copied = await this.#copy?.read(v, sc, cs);
    if (copied === undefined) {
      const ci = await sc.commit(cs, v);
      await this.#checkAgainstV1(v, ci.appHash);
      this.#counts.replayed++;
      return;
    }
    await sc.commitCopied(v, copied, () => V1VersionCopy.checkRemovals(v, sc, cs));
    this.#counts.copied++;
  }

  /** Stops the background work and ends the migration in the snapshots manager. */
  async close(): Promise<void> {
    if (!this.#stop.signal.aborted)
      this.#stop.abort(new StoreMigrateError('ERR_STREAM_CLOSED', 'migration closed'));
    for (const s of this.#subs.splice(0)) s.unsubscribe();
    await this.buffer.drain().catch((err: unknown) => {
      // A buffer write that failed was reported to its commit; at close there is nothing more to do.
      this.#log.debug({ err }, 'a changeset buffer write failed before close');
    });
    if (!this.#snapshots.migrating) this.#snapshots.endMigration(this.#sc);
    await this.#spill?.close();
    this.#tracker.complete();
  }

  /** Marks the migration switched: phase and progress for status readers. */
  markSwitched(): void {
    this.#tracker.update({ phase: 'switched' });
  }
}
