import { rm } from 'node:fs/promises';
import { type Observable, ReplaySubject, Subject, type Subscription } from 'rxjs';
import type { LevelDatabase } from '../../db/kv-db.js';
import { KvDb } from '../../db/kv-db.js';
import { readU64be, u64be } from '../../encoding/byte-writer.js';
import type { Changeset, VersionedChangeset } from '../../encoding/changeset.js';
import { isStoreMigrateError, StoreMigrateError } from '../../errors.js';
import { type Logger, silentLogger } from '../../logger.js';
import { handoffSpillPath } from '../../migration/handoff-spill.js';
import type { MigrationManager } from '../../migration/migration-manager.js';
import type { MigrationRunner } from '../../migration/migration-runner.js';
import { type MigrationStatus, migrationStatus } from '../../migration/migration-status.js';
import type { MigrationProgress } from '../../migration/progress.js';
import type { CommitInfo } from '../../multistore/commit-info.js';
import type { QueryResult } from '../../multistore/proof-ops.js';
import { MultiStoreV1 } from '../../v1/multi-store-v1.js';
import { ChangesetJournal, journalPath } from '../../worker/changeset-journal.js';
import { MigrationThread } from '../../worker/migration-thread.js';
import { workerState } from '../../worker/worker-messages.js';
import type { StateCommitment } from '../commitment/state-commitment.js';
import { openV2Home, type V2Home } from '../home/open-v2-home.js';
import { V2Keys } from '../home/v2-keys.js';
import type { StateStorage } from '../storage/state-storage.js';

export interface RootStoreOptions {
  /** Stores to mount when v1 is new. */
  stores?: string[];
  logger?: Logger;
  /** Maximum leaves per second during the restore. */
  throttle?: number;
  /** Carry the last K versions into StateStorage, so old heights stay queryable without v1. */
  history?: number;
  /** Keep syncing but do not switch until releaseSwitch() is called. */
  postponeSwitch?: boolean;
  /** Snapshot stream queue size. */
  bufferSize?: number;
  /** Restore batch (and checkpoint) size in bytes. */
  batchBytes?: number;
  /** Start the background migration when v2 is behind (default true). */
  migrate?: boolean;
  /**
   * Run the migration's restore and sync on a worker thread (default false), so its CPU work
   * never lands between the node's commits. v2 must be an on-disk LevelDB (classic-level, as
   * openDb opens it): the worker opens its directory and owns it until the switch, and the
   * node thread serves the worker's v1 reads. `sc`, `ss` and `manager` are not available
   * until the switch (status() and progress$ are).
   */
  worker?: boolean;
  /** The worker's heap limit in MiB (Node's default when absent). */
  workerHeapMb?: number;
  /**
   * The worker thread's nice value on Linux (default 0: the node's). Above 0, where the two
   * compete for a core the node's commits come first and the migration takes what is left;
   * at 10 on two busy cores it can take so little that it never catches up. Elsewhere ignored.
   */
  workerNice?: number;
  /**
   * With `worker`: make each block's changeset durable in a journal on the node thread
   * (`v2.journal/` beside v2) instead of waiting for the worker to buffer it in v2 (default
   * false). The node's commits then never wait for the worker, whose v2 writes stall behind
   * its bulk writes; but those waits are also what slows a node that commits back to back
   * enough for the sync to catch up: on two cores, with the journal, neither bench
   * commit-latency (1,000 blocks back to back) nor the demo (a legacy v1, a block every
   * 200 ms) caught up. For nodes whose blocks are seconds apart.
   */
  changesetJournal?: boolean;
  /**
   * With a v1 written by cosmos-sdk v0.50+: bytes of v1's writes that each commit hands to
   * the sync and that it keeps in memory (default 48 MiB, about 40 blocks of 1,000 changes).
   * On the worker, the rest go to `v2.handoff/` beside v2 and are read back from there;
   * without the worker, they are read from v1.
   */
  handoffBytes?: number;
}

export type RootStoreEvent =
  | { type: 'started'; version: number }
  | { type: 'restored'; version: number }
  | { type: 'syncing'; version: number }
  | { type: 'switched'; version: number }
  | { type: 'failed'; version: number; error: StoreMigrateError };

export interface CommitTiming {
  version: number;
  durationMs: number;
  /** The store the block went to. */
  mode: 'v1' | 'v2';
  /**
   * While migrating: ms from the commit's start until the migration had the block's changeset
   * durable (v1 writes the block only then). Close to durationMs when the block waited for it.
   */
  bufferedMs?: number;
}

export type { MigrationStatus } from '../../migration/migration-status.js';

const SWITCHED_KEY = V2Keys.switched;
/**
 * A commit waits (at most SWITCH_WAIT_MS) for a sync this many versions behind v1 to catch up
 * (see #awaitCatchUp): a sync that keeps pace still trails by a few versions (buffered, then
 * confirmed, then read from v1, then written).
 */
const SWITCH_WAIT_VERSIONS = 8;
const SWITCH_WAIT_MS = 3_000;
/** Blocks to go without that wait after one in vain. */
const SWITCH_RETRY_BLOCKS = 100;

/** 'v1': no migration running (not started, or disabled); commits go to v1 only. */
type Mode = 'v1' | 'migrating' | 'failed' | 'v2';

/**
 * The node-facing store. While migrating, commits go to v1 and their changesets out on an
 * RxJS channel to the migration, which never holds a commit up. At the first commit boundary
 * where the migration has caught up (and the switch is not postponed), it switches: from then
 * on commits go to v2 (StateCommitment and StateStorage) with the same app hash. Queries are
 * routed by height. A failed migration leaves the node committing on v1.
 */
export class RootStore {
  readonly v1: MultiStoreV1;
  readonly #v2: KvDb;
  readonly #options: RootStoreOptions;
  readonly #log: Logger;
  // Late subscribers (an RPC client, a UI) still see how the migration got where it is.
  readonly #events = new ReplaySubject<RootStoreEvent>(32);
  readonly events$: Observable<RootStoreEvent> = this.#events.asObservable();
  readonly #changesets = new Subject<VersionedChangeset>();
  readonly #commits = new Subject<CommitTiming>();
  /** One emission per commit, with its duration: for latency metrics. */
  readonly commits$: Observable<CommitTiming> = this.#commits.asObservable();
  // A replay: a runner that subscribes after a stop (still handing v2 over) still stops.
  readonly #done = new ReplaySubject<void>(1);
  // The progress of whichever runner is current (in-thread manager, worker, the switched home).
  readonly #progress = new ReplaySubject<MigrationProgress>(1);
  #progressSub: Subscription | undefined;
  /** v2's parts on this thread; closed while a worker owns v2. */
  #home: V2Home;
  #thread: MigrationThread | undefined;
  #runner: Promise<MigrationRunner | undefined> = Promise.resolve(undefined);
  #mode: Mode = 'v1';
  #switchedAt: number | undefined;
  #postponed: boolean;
  /** Whether v1's trees are all node-key (#handOverWrites). */
  #nodeKeyV1: boolean | undefined;
  /** #awaitCatchUp waits only from this v1 version on. */
  #waitAfter = 0;
  #run: Promise<void> | undefined;
  #error: StoreMigrateError | undefined;
  #commitChain: Promise<unknown> = Promise.resolve();

  private constructor(v1: MultiStoreV1, v2: KvDb, home: V2Home, options: RootStoreOptions, log: Logger) {
    this.v1 = v1;
    this.#v2 = v2;
    this.#home = home;
    this.#options = options;
    this.#postponed = options.postponeSwitch ?? false;
    this.#log = log;
    this.#follow(home.manager);
  }

  /** Relays `runner`'s progress as this store's progress$. */
  #follow(runner: MigrationRunner): void {
    this.#progressSub?.unsubscribe();
    this.#progressSub = runner.progress$.subscribe((p) => this.#progress.next(p));
  }

  #ownedByWorker(part: string): StoreMigrateError {
    return new StoreMigrateError(
      'ERR_NOT_LOADED',
      `${part} belongs to the migration worker until the switch; use status() and progress$`,
    );
  }

  /** StateCommitment (on this thread; not while a worker owns v2). */
  get sc(): StateCommitment {
    if (this.#thread && this.#mode !== 'v2') throw this.#ownedByWorker('StateCommitment');
    return this.#home.sc;
  }

  /** StateStorage (on this thread; not while a worker owns v2). */
  get ss(): StateStorage {
    if (this.#thread && this.#mode !== 'v2') throw this.#ownedByWorker('StateStorage');
    return this.#home.ss;
  }

  /** The migration manager (on this thread; not while a worker owns v2). */
  get manager(): MigrationManager {
    if (this.#thread && this.#mode !== 'v2') throw this.#ownedByWorker('the migration manager');
    return this.#home.manager;
  }

  /**
   * The migration worker while one runs (`worker: true`), for tools and tests that need the
   * thread itself (its heap, or ending it to see the node survive).
   */
  get migrationThread(): MigrationThread | undefined {
    return this.#thread;
  }

  /** Whoever runs the migration now. */
  get #live(): MigrationRunner {
    return this.#thread ?? this.#home.manager;
  }

  /**
   * Opens a node's stores as it starts: v2 already switched → serve v2; otherwise start (or
   * resume) the background migration at v1's last committed version.
   */
  static async open(
    v1Db: LevelDatabase,
    v2Db: LevelDatabase,
    options: RootStoreOptions = {},
  ): Promise<RootStore> {
    const log = (options.logger ?? silentLogger).child({ component: 'root' });
    // Before anything is read or written: the worker opens v2 by its directory.
    if (options.worker && typeof (v2Db as { location?: unknown }).location !== 'string') {
      throw new StoreMigrateError(
        'ERR_USAGE',
        'worker: true needs v2 in an on-disk LevelDB (classic-level, as openDb opens it): the worker opens its directory',
      );
    }
    const v2 = new KvDb(v2Db);
    await RootStore.#takeBackBeside(v2, log);
    const switchedRaw = await v2.get(SWITCHED_KEY);
    const v1 = await MultiStoreV1.open(v1Db, {
      stores: switchedRaw ? undefined : options.stores,
      readOnly: switchedRaw !== undefined,
    });
    const switched = switchedRaw !== undefined;
    let parts = await RootStore.#openV2(v1, v2, options, switched);
    await parts.manager.verifySource();
    if (!switched && (await RootStore.#mustStartOver(parts, v1, log))) {
      await v2.clear();
      parts = await RootStore.#openV2(v1, v2, options, false);
    }
    const rs = new RootStore(v1, v2, parts, options, log);
    if (switchedRaw !== undefined) {
      rs.#mode = 'v2';
      rs.#switchedAt = readU64be(switchedRaw, 0);
      await rs.#recoverV2();
      parts.manager.markSwitched();
    } else if (v1.latestVersion === 0) {
      // A new node: there is nothing to migrate, so it starts on v2 directly.
      await rs.#switch(0);
    } else if (options.migrate !== false) {
      rs.#startMigration();
    }
    return rs;
  }

  /**
   * What a migration worker leaves beside v2 (a crash, a worker that died, or a close): moves
   * what its journal still holds into v2's changeset buffer, before anything reads the buffer,
   * and removes its spill of handed-over writes.
   */
  static async #takeBackBeside(v2: KvDb, log: Logger): Promise<void> {
    const location = (v2.db as { location?: unknown }).location;
    if (typeof location !== 'string') return;
    const n = await ChangesetJournal.fold(journalPath(location), v2);
    if (n > 0) log.info({ changesets: n }, 'moved the migration journal into the changeset buffer');
    // A worker that died (or a crash) leaves its spill of handed-over writes; only a cache.
    await rm(handoffSpillPath(location), { recursive: true, force: true }).catch((err: unknown) => {
      log.warn({ err }, 'could not remove a migration worker spill; the next worker empties it');
    });
  }

  static async #openV2(v1: MultiStoreV1, v2: KvDb, options: RootStoreOptions, switched: boolean) {
    const { sc, ss, manager } = await openV2Home(v2, v1, { ...options, confirmCommits: true });
    // Changesets buffered for a commit that never happened (a crash in between) are void: above
    // v1's latest before the switch, above StateCommitment's after it. Below that, after the
    // switch, they are the write-ahead log that brings StateStorage up to StateCommitment.
    const committed = switched ? sc.latestVersion : v1.latestVersion;
    if (committed > 0) await manager.buffer.deleteFrom(committed + 1);
    manager.confirm(v1.latestVersion);
    return { sc, ss, manager };
  }

  /**
   * Whether what v2 holds cannot be resumed: the last run failed (a corrupt or conflicting
   * changeset, a hash mismatch), or a changeset it still needs is missing or corrupt.
   */
  static async #mustStartOver(
    parts: { manager: MigrationManager; sc: StateCommitment; ss: StateStorage },
    v1: MultiStoreV1,
    log: Logger,
  ): Promise<boolean> {
    const { manager, sc, ss } = parts;
    // The records are written after what they describe (and the height is a v1 version): if
    // v2 or v1 does not back them up, they are corrupt, and trusting them could switch to an
    // incomplete v2.
    const migrated = manager.migratedVersion;
    if (
      manager.height > v1.latestVersion ||
      migrated > v1.latestVersion ||
      sc.latestVersion < migrated ||
      ss.latestVersion < migrated
    ) {
      log.warn(
        {
          height: manager.height,
          migrated,
          sc: sc.latestVersion,
          ss: ss.latestVersion,
          v1: v1.latestVersion,
        },
        'the migration records do not match v2 and v1; starting the migration over',
      );
      return true;
    }
    const failure = await manager.recordedFailure();
    if (failure !== undefined) {
      log.warn({ failure }, 'the previous migration failed; starting it over');
      return true;
    }
    if (v1.latestVersion > 0 && (await RootStore.#lostChangesets(manager, v1))) {
      log.warn(
        { v1Latest: v1.latestVersion, buffered: manager.buffer.last },
        'changesets missing; restarting the migration',
      );
      return true;
    }
    return false;
  }

  /**
   * True when the migration in v2 can no longer catch up with v1: a changeset it still needs
   * is missing (a crash between the v1 commit and the buffer) or corrupt.
   */
  static async #lostChangesets(manager: MigrationManager, v1: MultiStoreV1): Promise<boolean> {
    if (manager.height === 0) return false;
    const from = Math.max(manager.migratedVersion, manager.height) + 1;
    if (from > v1.latestVersion) return false;
    return (await manager.buffer.check(from, v1.latestVersion)) !== 'ok';
  }

  /**
   * Starts the background migration (open() does this unless `migrate: false`). Does
   * nothing once a migration runs or the store has switched.
   */
  startMigration(): void {
    if (this.#mode !== 'v1') return;
    this.#startMigration();
  }

  #startMigration(): void {
    const m = this.#home.manager;
    const height = m.height > 0 ? m.height : this.v1.latestVersion;
    this.#mode = 'migrating';
    this.#events.next({ type: 'started', version: height });
    this.#log.info({ height, worker: this.#options.worker === true }, 'background migration started');
    this.#runner = this.#openRunner(height);
    this.#run = this.#runner
      .then(async (runner) => {
        let restored = m.migratedVersion >= height;
        runner!.onMigrated((v) => {
          if (!restored) {
            restored = true;
            this.#events.next({ type: 'restored', version: v });
            this.#events.next({ type: 'syncing', version: v });
          }
          // Caught up between blocks: switch at this boundary rather than wait for the next block.
          if (v >= this.v1.latestVersion) this.#scheduleSwitchCheck();
        });
        await runner!.start(height, this.#changesets, this.#done);
      })
      .catch(async (err: unknown) => {
        if (this.#mode === 'v2') return;
        this.#failed(StoreMigrateError.from(err, 'ERR_MIGRATION_FAILED', 'migration failed'));
        await this.#takeBackV2().catch((reopenErr: unknown) => {
          // The node goes on with v1; v2 is opened (and started over) at the next start.
          this.#log.error({ err: reopenErr }, 'could not reopen v2 after the migration worker stopped');
        });
      });
  }

  /** The runner of a migration at `height`: the manager here, or a worker that takes v2 over. */
  async #openRunner(height: number): Promise<MigrationRunner> {
    if (!this.#options.worker) return this.#home.manager;
    const o = this.#options;
    const m = this.#home.manager;
    const state = workerState(m);
    // LevelDB opens a directory once per process unless shared: then this thread keeps its
    // handle (and does not use it) while the worker owns v2; otherwise it lets go of v2.
    const v2Shared = (this.#v2.db as { shared?: boolean }).shared === true;
    if (!v2Shared) await this.#v2.db.close();
    const thread = MigrationThread.spawn({
      v2Shared,
      v1Db: this.v1.kv.db,
      v1Path: (this.v1.kv.db as unknown as { location?: string }).location,
      v2Path: (this.#v2.db as unknown as { location: string }).location,
      height,
      confirmed: this.v1.latestVersion,
      state,
      throttle: o.throttle,
      history: o.history,
      bufferSize: o.bufferSize,
      batchBytes: o.batchBytes,
      handoffBytes: o.handoffBytes,
      logger: this.#log,
      maxOldGenerationSizeMb: o.workerHeapMb,
      nice: o.workerNice,
      journal: o.changesetJournal,
    });
    this.#thread = thread;
    this.#follow(thread);
    if (m.paused) thread.pause();
    return thread;
  }

  #failed(e: StoreMigrateError): void {
    this.#mode = 'failed';
    this.#error = e;
    this.#log.error({ err: e }, 'migration failed; the node keeps committing on v1');
    this.#events.next({ type: 'failed', version: this.v1.latestVersion, error: e });
  }

  /** After a worker stopped (the switch, a failure, close): v2 back on this thread. */
  async #takeBackV2(): Promise<void> {
    const thread = this.#thread;
    if (thread === undefined) return;
    await thread.close();
    if (this.#v2.db.status === 'closed') await this.#v2.db.open();
    await RootStore.#takeBackBeside(this.#v2, this.#log);
    this.#home = await openV2Home(this.#v2, this.v1, { ...this.#options, confirmCommits: true });
    this.#follow(this.#home.manager);
    this.#thread = undefined;
  }

  /** After a crash in v2 mode: StateStorage may miss the last version StateCommitment has. */
  async #recoverV2(): Promise<void> {
    for (let v = this.ss.latestVersion + 1; v <= this.sc.latestVersion; v++) {
      const cs = await this.manager.buffer.read(v);
      if (cs === undefined) {
        throw new StoreMigrateError(
          'ERR_CHANGESET_GAP',
          `StateStorage misses version ${v} and no changeset is buffered for it`,
        );
      }
      await this.ss.applyChangeset(v, cs);
    }
    const last = this.sc.latestVersion;
    if (last > 0) await this.manager.buffer.deleteTo(last);
  }

  get isMigrating(): boolean {
    return this.#mode === 'migrating';
  }

  get migratedVersion(): number {
    return this.#live.migratedVersion;
  }

  get latestVersion(): number {
    return this.#mode === 'v2' ? this.#home.sc.latestVersion : this.v1.latestVersion;
  }

  /** The last height committed on v1; v2 serves every later one. */
  get switchedAtVersion(): number | undefined {
    return this.#switchedAt;
  }

  get error(): StoreMigrateError | undefined {
    return this.#error;
  }

  /** The migration's progress, wherever it runs (completes at close()). */
  get progress$(): Observable<MigrationProgress> {
    return this.#progress.asObservable();
  }

  /** Lets a postponed switch happen at the next commit boundary. */
  releaseSwitch(): void {
    this.#postponed = false;
    this.#scheduleSwitchCheck();
  }

  /** Queues a switch check behind the commits in flight, so it lands on a block boundary. */
  #scheduleSwitchCheck(): void {
    const p = this.#commitChain.then(() => this.#maybeSwitch());
    this.#commitChain = p.catch((err) => this.#log.error({ err }, 'switch failed'));
  }

  #canSwitch(): boolean {
    return (
      this.#mode === 'migrating' &&
      !this.#postponed &&
      this.#live.error === undefined &&
      this.#live.migratedVersion === this.v1.latestVersion
    );
  }

  /**
   * When the sync is a few versions short of v1's latest, waits (at most SWITCH_WAIT_MS) for
   * it to finish them, so that the switch lands at this boundary. With blocks back to back
   * there is otherwise no boundary at which the sync has v1's latest: v1 commits the next
   * block as soon as it confirmed this one. The wait is for versions v1 committed just now,
   * nothing the migration could have done earlier. After a wait in vain it does not
   * wait again for SWITCH_RETRY_BLOCKS blocks, so a sync that does not keep up never slows
   * every block.
   */
  async #awaitCatchUp(): Promise<void> {
    const m = this.#live;
    const latest = this.v1.latestVersion;
    if (this.#mode !== 'migrating' || this.#postponed || m.error !== undefined) return;
    const behind = latest - m.migratedVersion;
    // Only once restored: before that (height 0 while a worker starts) nothing is to catch up.
    const restored = m.height > 0 && m.migratedVersion >= m.height;
    if (!restored || behind < 1 || behind > SWITCH_WAIT_VERSIONS || latest < this.#waitAfter) return;
    const caughtUp = await new Promise<boolean>((resolve) => {
      const settle = (ok: boolean) => {
        clearTimeout(timer);
        off();
        resolve(ok);
      };
      const timer = setTimeout(() => settle(false), SWITCH_WAIT_MS);
      const off = m.onMigrated((v) => v >= latest && settle(true));
      if (m.migratedVersion >= latest) settle(true);
    });
    if (!caughtUp) this.#waitAfter = latest + SWITCH_RETRY_BLOCKS;
  }

  async #maybeSwitch(): Promise<void> {
    if (!this.#canSwitch()) return;
    try {
      await this.#switch(this.v1.latestVersion);
    } catch (err) {
      // The switch record did not make it, so nothing switched; the migration stopped for the
      // switch, so it failed. The node goes on with v1; a restart resumes or starts over.
      this.#failed(StoreMigrateError.from(err, 'ERR_MIGRATION_FAILED', 'the switch failed'));
    }
  }

  pause(): void {
    this.#live.pause();
  }

  resume(): void {
    this.#live.resume();
  }

  /**
   * The migration's status (the same document as `status --json` and `migration_status`).
   * @example
   * const { phase, progress } = store.status(); // e.g. 'restoring', progress.percent
   */
  status(): MigrationStatus {
    const m = this.#live;
    const thread = this.#thread;
    return migrationStatus(
      {
        stores: this.v1.storeNames(),
        v1LatestVersion: this.v1.latestVersion,
        v2LatestVersion: thread ? thread.v2LatestVersion : this.#home.sc.latestVersion,
        height: m.height,
        migratedVersion: m.migratedVersion,
        switchedAtVersion: this.#switchedAt,
        failure: undefined,
        restoredStores: [],
        buffer: thread
          ? thread.bufferRange
          : { first: this.#home.manager.buffer.first, last: this.#home.manager.buffer.last },
      },
      {
        started: this.#run !== undefined,
        progress: m.progress,
        paused: m.paused,
        switchPostponed: this.#postponed,
        error: this.#error ? { code: this.#error.code, message: this.#error.message } : undefined,
      },
    );
  }

  /** Commits the next block. Commits are serialised; each returns its CommitInfo. */
  commit(cs: Changeset): Promise<CommitInfo> {
    const p = this.#commitChain.then(async () => {
      const t0 = performance.now();
      const mode = this.#mode;
      const timing: { bufferedAt?: number } = {};
      const ci = await this.#commit(cs, timing);
      this.#commits.next({
        version: ci.version,
        durationMs: performance.now() - t0,
        mode: mode === 'v2' ? 'v2' : 'v1',
        ...(timing.bufferedAt !== undefined ? { bufferedMs: timing.bufferedAt - t0 } : {}),
      });
      return ci;
    });
    // The caller gets p's rejection; the chain only orders the next commit after this one.
    this.#commitChain = p.catch(() => {});
    return p;
  }

  async #commit(cs: Changeset, timing: { bufferedAt?: number }): Promise<CommitInfo> {
    await this.#awaitCatchUp();
    await this.#maybeSwitch();
    if (this.#mode === 'v2') return this.#commitV2(cs);
    if (this.#mode !== 'migrating') return this.v1.commit(cs);
    // Write-ahead: the changeset is durable in the buffer before v1 commits it, so a crash
    // never leaves v1 with a version the migration cannot replay. Sync applies it only
    // once confirmed. The buffer write is one small put, whatever the migration is doing.
    const version = this.v1.latestVersion + 1;
    this.v1.validate(cs);
    const runner = await this.#runner.catch(() => undefined); // its failure is reported by #run
    this.#changesets.next({ version, changeset: cs });
    // v1 hashes and stages the block while the buffer write is under way, and writes it after.
    const buffered = runner
      ? runner.persisted(version).then(
          () => {
            timing.bufferedAt = performance.now();
            return true;
          },
          () => false, // the migration failed; the node goes on with v1 alone
        )
      : Promise.resolve(false);
    // The nodes v1 writes for the block go to the sync too, which copies them from there
    // instead of reading them back (a node-key v1 only: a legacy one is replayed).
    const writes =
      runner && this.#handOverWrites() ? { keys: [] as Uint8Array[], values: [] as Uint8Array[] } : undefined;
    const onPut = writes
      ? (k: Uint8Array, v: Uint8Array) => {
          writes.keys.push(k);
          writes.values.push(v);
        }
      : undefined;
    let ci: CommitInfo;
    try {
      ci = await this.v1.commit(cs, version, buffered, onPut);
    } catch (err) {
      if (await buffered) {
        await runner!.discard(version).catch((discardErr: unknown) => {
          // Left in the buffer, it is void: the next start deletes changesets above v1's latest.
          this.#log.warn({ err: discardErr, version }, 'could not discard the changeset of a failed commit');
        });
      }
      throw err;
    }
    runner?.confirm(version, writes);
    return ci;
  }

  /** Whether every v1 store is a node-key tree, whose new nodes the sync can copy (cached). */
  #handOverWrites(): boolean {
    this.#nodeKeyV1 ??= this.v1.storeNames().every((n) => this.v1.tree(n).layout === 'node-key');
    return this.#nodeKeyV1;
  }

  async #commitV2(cs: Changeset): Promise<CommitInfo> {
    // An earlier commit failed after StateCommitment had it (so it is committed): StateStorage
    // catches up from the write-ahead log first, as after a crash.
    if (this.ss.latestVersion < this.sc.latestVersion) await this.#recoverV2();
    const v = this.sc.latestVersion + 1;
    this.sc.validate(cs);
    // The buffer is the write-ahead log that lets StateStorage catch up after a crash.
    await this.manager.buffer.write({ version: v, changeset: cs }, v - 1);
    let ci: CommitInfo;
    try {
      ci = await this.sc.commit(cs, v);
    } catch (err) {
      // Not committed: its log entry is void (the block committed next as v may differ).
      await this.manager.buffer.deleteFrom(v).catch((deleteErr: unknown) => {
        // Left in the log, it is void: the next start deletes entries above StateCommitment's latest.
        this.#log.warn({ err: deleteErr, version: v }, 'could not delete the log entry of a failed commit');
      });
      throw err;
    }
    await this.ss.applyChangeset(v, cs);
    await this.manager.buffer.deleteTo(v);
    return ci;
  }

  async #switch(version: number): Promise<void> {
    this.#done.next();
    if (this.#run) await this.#run;
    // A worker has stopped at `version`: v2 comes back to this thread, then the record.
    await this.#takeBackV2();
    if (this.#home.sc.latestVersion !== version) {
      throw new StoreMigrateError(
        'ERR_INTERNAL',
        `switch at ${version}, but StateCommitment is at ${this.#home.sc.latestVersion}`,
      );
    }
    await this.#v2.put(SWITCHED_KEY, u64be(version));
    this.#mode = 'v2';
    this.#switchedAt = version;
    this.#home.manager.markSwitched();
    this.#log.info({ version }, 'switched to store v2');
    this.#events.next({ type: 'switched', version });
    // Replayed changesets are no longer needed; what a failure leaves, the next v2 commit deletes.
    await this.#home.manager.buffer
      .deleteTo(version)
      .catch((err) => this.#log.warn({ err }, 'could not delete replayed changesets'));
  }

  async #assertV2Has(height: number): Promise<boolean> {
    if (this.#mode !== 'v2') return false;
    try {
      await this.sc.getCommitInfo(height);
      return true;
    } catch (err) {
      if (isStoreMigrateError(err, 'ERR_VERSION_NOT_FOUND') || isStoreMigrateError(err, 'ERR_VERSION_PRUNED'))
        return false;
      throw err;
    }
  }

  #ssHas(height: number): boolean {
    return this.ss.latestVersion > 0 && height >= this.ss.earliestVersion && height <= this.ss.latestVersion;
  }

  /** Routed by height: v2 for the heights it holds once switched, v1 otherwise while it is kept. */
  async query(store: string, key: Uint8Array, height?: number, prove = false): Promise<QueryResult> {
    const h = height ?? this.latestVersion;
    if (this.#mode !== 'v2') return this.v1.query(store, key, h, prove);
    if (await this.#assertV2Has(h)) {
      if (!prove && this.#ssHas(h)) {
        this.sc.tree(store);
        return { value: await this.ss.get(store, key, h), height: h };
      }
      return this.sc.query(store, key, h, prove);
    }
    if (!prove && this.#ssHas(h)) {
      this.sc.tree(store);
      return { value: await this.ss.get(store, key, h), height: h };
    }
    if (h > this.latestVersion) {
      throw new StoreMigrateError(
        'ERR_VERSION_NOT_FOUND',
        `height ${h} is above the latest ${this.latestVersion}`,
      );
    }
    try {
      return await this.v1.query(store, key, h, prove);
    } catch (err) {
      if (
        isStoreMigrateError(err, 'ERR_VERSION_NOT_FOUND') ||
        isStoreMigrateError(err, 'ERR_VERSION_PRUNED')
      ) {
        throw new StoreMigrateError('ERR_VERSION_PRUNED', `height ${h} is no longer held by v1 or v2`, {
          details: { height: h },
        });
      }
      throw err;
    }
  }

  /** The commit info (app hash and store roots) of a height, routed like query. */
  async commitInfo(height?: number): Promise<CommitInfo> {
    const h = height ?? this.latestVersion;
    if (this.#mode === 'v2' && (await this.#assertV2Has(h))) return this.sc.getCommitInfo(h);
    if (this.#mode === 'v2' && h > this.latestVersion) {
      throw new StoreMigrateError(
        'ERR_VERSION_NOT_FOUND',
        `height ${h} is above the latest ${this.latestVersion}`,
      );
    }
    return this.v1.getCommitInfo(h);
  }

  /** Stops the background migration (it resumes on the next open). */
  async close(): Promise<void> {
    await this.#commitChain;
    this.#done.next();
    if (this.#run) await this.#run;
    if (this.#thread) {
      await this.#thread.close();
      // The caller's handle is open again, as it was given, with the journal's leftovers in it.
      if (this.#v2.db.status === 'closed') await this.#v2.db.open();
      this.#thread = undefined;
      await RootStore.#takeBackBeside(this.#v2, this.#log);
    } else {
      await this.#home.manager.close();
    }
    this.#progressSub?.unsubscribe();
    this.#progress.complete();
    this.#events.complete();
    this.#commits.complete();
  }
}
