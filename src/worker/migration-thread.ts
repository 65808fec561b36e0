import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { BehaviorSubject, type Observable, type Subscription } from 'rxjs';
import type { LevelDatabase } from '../db/kv-db.js';
import { encodeChangeset, type VersionedChangeset } from '../encoding/changeset.js';
import { fromWireError, StoreMigrateError } from '../errors.js';
import type { Logger } from '../logger.js';
import { IDLE_PROGRESS, type MigrationProgress } from '../migration/progress.js';
import type { V1Writes } from '../migration/v1-version-copy.js';
import { ChangesetJournal, journalPath } from './changeset-journal.js';
import { V1ReadServer } from './v1-read-server.js';
import { ownBuffer, packBytes } from './wire.js';
import type { FromWorker, MigrationWorkerData, ToWorker, WorkerState } from './worker-messages.js';

export interface MigrationThreadOptions {
  /** v1, which the node thread keeps and serves to the worker when the worker cannot open it. */
  v1Db: LevelDatabase;
  /**
   * v1's directory. When the node opened it shared (openDb's `multithreading`), the worker
   * opens it too and its reads never reach the node thread; otherwise it asks this thread.
   */
  v1Path?: string;
  /** v2's directory: the worker opens it, so nobody else may have it open (unless shared). */
  v2Path: string;
  /** The node's v2 handle stays open, shared: the worker opens v2 shared as well. */
  v2Shared?: boolean;
  height: number;
  /** The last version v1 committed. */
  confirmed: number;
  state: WorkerState;
  throttle?: number;
  history?: number;
  bufferSize?: number;
  batchBytes?: number;
  /** Bytes of v1's handed-over writes the sync keeps in memory; the rest go to its spill. */
  handoffBytes?: number;
  logger: Logger;
  /** Heap limit of the worker in MiB (Node's default when absent). */
  maxOldGenerationSizeMb?: number;
  /** The worker's nice value on Linux (default 0: the node's). */
  nice?: number;
  /** Make each changeset durable in a journal on this thread (RootStore's changesetJournal). */
  journal?: boolean;
}

// The worker's garbage dies within a batch or a replayed block, so a small young generation
// costs it no speed (restore of 4M leaves: 121 s vs 117 s) and saves ~65 MiB of resident
// memory against V8's default (bench memory at 4M leaves: peak RssAnon 289 vs 354 MiB).
const WORKER_YOUNG_GENERATION_MB = 8;
/** The compiled worker; under vitest (TypeScript sources) the build's copy. */
function workerUrl(): URL {
  const here = new URL('./migration-worker.js', import.meta.url);
  if (!import.meta.url.endsWith('.ts')) return here;
  const built = new URL('../../dist/worker/migration-worker.js', import.meta.url);
  if (!existsSync(fileURLToPath(built))) {
    throw new StoreMigrateError('ERR_INTERNAL', 'the migration worker is not built: run npm run build');
  }
  return built;
}

/**
 * The node thread's handle on a migration running in a worker thread (migration-worker.ts),
 * with the part of MigrationManager's interface that RootStore drives: start, persisted,
 * confirm, discard, pause and throttle, progress. The worker owns v2 until it stops; v1 stays
 * here and answers the worker's reads (V1ReadServer). A worker that dies (an uncaught error,
 * out of memory, process.exit) fails the migration with ERR_WORKER_DIED.
 */
export class MigrationThread {
  readonly #worker: Worker;
  readonly #server: V1ReadServer;
  readonly #log: Logger;
  readonly #progress = new BehaviorSubject<MigrationProgress>({ ...IDLE_PROGRESS });
  readonly progress$: Observable<MigrationProgress> = this.#progress.asObservable();
  #state: WorkerState;
  #paused = false;
  #error: StoreMigrateError | undefined;
  #ended: { error?: StoreMigrateError } | undefined;
  #endWaiters: Array<() => void> = [];
  readonly #stopped: Promise<void>;
  readonly #persisted = new Map<number, { resolve: () => void; reject: (e: unknown) => void }>();
  readonly #discards = new Map<number, { resolve: () => void; reject: (e: unknown) => void }>();
  #nextId = 1;
  #listeners = new Set<(version: number) => void>();
  #subs: Subscription[] = [];
  /** The write-ahead journal beside v2, on this thread (undefined: it could not be opened). */
  readonly #journal: Promise<ChangesetJournal | undefined>;
  /** Each changeset's journal put (true: durable there), until the worker has it in v2's buffer. */
  readonly #journaled = new Map<number, Promise<boolean>>();
  readonly #journaling: boolean;

  /**
   * Starts the worker. Its migration begins with start().
   * @example
   * const thread = MigrationThread.spawn({ v1Db, v2Path, height, confirmed, state, logger });
   * await thread.start(height, changesets$, done$);
   */
  static spawn(options: MigrationThreadOptions): MigrationThread {
    return new MigrationThread(options);
  }

  private constructor(o: MigrationThreadOptions) {
    this.#log = o.logger.child({ component: 'migration-thread' });
    this.#state = o.state;
    this.#journal = o.journal
      ? ChangesetJournal.open(journalPath(o.v2Path)).catch((err: unknown) => {
          this.#log.warn(
            { err },
            'no changeset journal: each commit waits for the worker to buffer its changeset',
          );
          return undefined;
        })
      : Promise.resolve(undefined);
    this.#journaling = o.journal === true;
    const channel = new MessageChannel();
    const flag = new SharedArrayBuffer(4);
    this.#server = new V1ReadServer(o.v1Db, channel.port1, new Int32Array(flag), this.#log);
    const data: MigrationWorkerData = {
      v2Path: o.v2Path,
      v2Shared: o.v2Shared,
      height: o.height,
      confirmed: o.confirmed,
      paused: false,
      throttle: o.throttle,
      history: o.history,
      bufferSize: o.bufferSize,
      batchBytes: o.batchBytes,
      handoffBytes: o.handoffBytes,
      logLevel: o.logger.level,
      nice: o.nice ?? 0,
      v1Path: o.v1Path,
      v1Port: channel.port2,
      v1Flag: flag,
    };
    this.#worker = new Worker(workerUrl(), {
      workerData: data,
      transferList: [channel.port2],
      resourceLimits: {
        maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB,
        ...(o.maxOldGenerationSizeMb ? { maxOldGenerationSizeMb: o.maxOldGenerationSizeMb } : {}),
      },
    });
    this.#log.debug(
      { height: o.height, journal: this.#journaling, nice: data.nice, handoffBytes: o.handoffBytes },
      'migration worker started',
    );
    this.#worker.on('message', (msg: FromWorker) => this.#onMessage(msg));
    this.#stopped = new Promise<void>((resolve) => {
      this.#worker.on('error', (err) => this.#died(err));
      this.#worker.on('exit', (code) => {
        this.#died(new Error(`the worker exited with code ${code}`));
        this.#server.close().finally(resolve);
      });
    });
  }

  #onMessage(msg: FromWorker): void {
    switch (msg.t) {
      case 'log':
        this.#relayLog(msg.line);
        return;
      case 'progress':
        this.#progress.next(msg.progress);
        return;
      case 'state':
        this.#state = msg.state;
        return;
      case 'persisted':
        this.#state = msg.state;
        this.#persisted.get(msg.version)?.resolve();
        this.#persisted.delete(msg.version);
        this.#unjournal(msg.version);
        return;
      case 'persist-failed':
        this.#persisted.get(msg.version)?.reject(fromWireError(msg.error));
        this.#persisted.delete(msg.version);
        return;
      case 'migrated':
        this.#state = msg.state;
        for (const l of this.#listeners) l(msg.version);
        return;
      case 'discarded': {
        const d = this.#discards.get(msg.id);
        this.#discards.delete(msg.id);
        if (msg.error) d?.reject(fromWireError(msg.error));
        else d?.resolve();
        return;
      }
      case 'ended':
        this.#end(msg.error ? fromWireError(msg.error) : undefined);
        return;
      case 'stopped':
        return;
    }
  }

  #relayLog(line: string): void {
    try {
      const { level, msg, ...rest } = JSON.parse(line) as { level: number; msg?: string };
      const label = (pino.levels.labels[level] ?? 'info') as 'info';
      this.#log[label](rest, msg);
    } catch (err) {
      this.#log.warn({ err, line }, 'unreadable log line from the migration worker');
    }
  }

  #end(error: StoreMigrateError | undefined): void {
    if (error !== undefined && this.#error === undefined) {
      this.#error = error;
      this.#progress.next({ ...this.#progress.value, phase: 'failed' });
      for (const p of this.#persisted.values()) p.reject(error);
      for (const d of this.#discards.values()) d.reject(error);
      this.#persisted.clear();
      this.#discards.clear();
    }
    if (this.#ended === undefined) this.#ended = { error };
    for (const w of this.#endWaiters.splice(0)) w();
  }

  #died(err: Error): void {
    if (this.#ended !== undefined) return; // it said how it ended before it exited
    this.#end(
      new StoreMigrateError('ERR_WORKER_DIED', `the migration worker died: ${err.message}`, { cause: err }),
    );
  }

  get height(): number {
    return this.#state.height;
  }

  get migratedVersion(): number {
    return this.#state.migratedVersion;
  }

  /** StateCommitment's latest version, as the worker last reported it. */
  get v2LatestVersion(): number {
    return this.#state.scLatest;
  }

  get bufferRange(): { first: number; last: number } {
    return { first: this.#state.bufferFirst, last: this.#state.bufferLast };
  }

  get progress(): MigrationProgress {
    return this.#progress.value;
  }

  get error(): StoreMigrateError | undefined {
    return this.#error;
  }

  get paused(): boolean {
    return this.#paused;
  }

  #post(msg: ToWorker, transfer: ArrayBuffer[] = []): void {
    if (this.#ended === undefined) this.#worker.postMessage(msg, transfer);
  }

  pause(): void {
    this.#paused = true;
    this.#post({ t: 'pause' });
  }

  resume(): void {
    this.#paused = false;
    this.#post({ t: 'resume' });
  }

  setThrottle(rate: number | undefined): void {
    this.#post({ t: 'throttle', rate });
  }

  onMigrated(listener: (version: number) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Sends `changesets$` to the worker and stops it when `done$` emits. Resolves when the
   * migration stopped cleanly; rejects with its error (ERR_WORKER_DIED when the worker died).
   */
  async start(
    _height: number,
    changesets$: Observable<VersionedChangeset>,
    done$: Observable<void>,
  ): Promise<void> {
    this.#subs.push(
      changesets$.subscribe((vcs) => {
        const encoded = encodeChangeset(vcs.changeset);
        if (this.#journaling) this.#journaled.set(vcs.version, this.#journalPut(vcs.version, encoded));
        // A copy to transfer when the journal's put still reads `encoded`.
        const bytes = ownBuffer(this.#journaling ? encoded.slice() : encoded);
        this.#post({ t: 'changeset', version: vcs.version, bytes }, [bytes]);
      }),
      done$.subscribe(() => this.#post({ t: 'stop' })),
    );
    if (this.#ended === undefined) await new Promise<void>((resolve) => this.#endWaiters.push(resolve));
    if (this.#ended?.error) throw this.#ended.error;
  }

  /**
   * Resolves once changeset `version` is durable: with the journal, once it is there (on this
   * thread, so that a commit never waits for the worker, whose v2 writes can stall behind its
   * bulk writes); without it (or after a failed put), once the worker buffered it in v2.
   */
  persisted(version: number): Promise<void> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    const buffered = new Promise<void>((resolve, reject) =>
      this.#persisted.set(version, { resolve, reject }),
    );
    const journaled = this.#journaled.get(version);
    if (journaled === undefined) return buffered;
    // Observed below only if the journal failed; its rejection is the migration's failure.
    buffered.catch(() => {});
    return journaled.then((ok) => (ok ? undefined : buffered));
  }

  async #journalPut(version: number, bytes: Uint8Array): Promise<boolean> {
    const journal = await this.#journal;
    if (journal === undefined) return false;
    try {
      await journal.put(version, bytes);
      return true;
    } catch (err) {
      this.#log.warn({ err, version }, 'changeset journal write failed: this commit waits for the worker');
      return false;
    }
  }

  /** The worker has `version` in v2's buffer: out of the journal. */
  #unjournal(version: number): void {
    this.#dropJournaled(version).catch((err: unknown) =>
      this.#log.debug({ err, version }, 'changeset left in the journal'),
    );
  }

  /** Deletes changeset `version` from the journal once its put is done, if it went there. */
  async #dropJournaled(version: number): Promise<void> {
    const put = this.#journaled.get(version);
    this.#journaled.delete(version);
    if (await put) await (await this.#journal)?.delete(version);
  }

  confirm(version: number, writes?: V1Writes): void {
    if (writes === undefined) {
      this.#post({ t: 'confirm', version });
      return;
    }
    const keys = packBytes(writes.keys);
    const values = packBytes(writes.values);
    this.#post({ t: 'confirm', version, keys, values }, [keys, values]);
  }

  async discard(version: number): Promise<void> {
    if (this.#error !== undefined) return; // v2 is started over after a failure anyway
    const id = this.#nextId++;
    const done = new Promise<void>((resolve, reject) => this.#discards.set(id, { resolve, reject }));
    this.#post({ t: 'discard', id, version });
    await this.#dropJournaled(version);
    await done;
  }

  /**
   * Stops the worker (if it still runs) and resolves once it is gone and v2 is closed.
   * @example
   * await thread.close(); // v2's directory can be opened on this thread now
   */
  async close(): Promise<void> {
    for (const s of this.#subs.splice(0)) s.unsubscribe();
    if (this.#ended === undefined) this.#worker.postMessage({ t: 'stop' } satisfies ToWorker);
    await this.#stopped;
    // Kept: what the worker did not buffer, RootStore folds into v2 when it opens v2 again.
    await Promise.allSettled(this.#journaled.values());
    await (await this.#journal)?.close();
    this.#progress.complete();
  }

  /** Ends the worker at once (tests: a worker that dies). */
  async terminate(): Promise<void> {
    await this.#worker.terminate();
  }
}
