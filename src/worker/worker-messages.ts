import type { MessagePort } from 'node:worker_threads';
import type { WireError } from '../errors.js';
import type { MigrationManager } from '../migration/migration-manager.js';
import type { MigrationProgress } from '../migration/progress.js';

/** What the node thread hands the migration worker at its start. */
export interface MigrationWorkerData {
  v2Path: string;
  /** The node keeps v2 open, shared (openDb's `multithreading`): the worker opens it so too. */
  v2Shared?: boolean;
  /** The height to migrate (or the one a resumed migration has). */
  height: number;
  /** The last version v1 committed: sync may replay up to it. */
  confirmed: number;
  paused: boolean;
  throttle?: number;
  history?: number;
  bufferSize?: number;
  batchBytes?: number;
  /** Bytes of v1's handed-over writes the sync keeps in memory (MigrationManager's handoffBytes). */
  handoffBytes?: number;
  logLevel: string;
  /** The worker thread's nice value (Linux only: there setpriority of 0 is the calling thread). */
  nice: number;
  /**
   * v1's directory, when the node may have opened it shared (openDb's `multithreading`): the
   * worker then opens it too and reads it on its own thread, with no work on the node's.
   */
  v1Path?: string;
  /** The v1 read channel (V1ReadServer on the node thread), used when v1 is not shared, and its wake-up flag. */
  v1Port: MessagePort;
  v1Flag: SharedArrayBuffer;
}

/** Node thread → worker. */
export type ToWorker =
  /** A block's changeset (encodeChangeset, transferred), to buffer before v1 commits it. */
  | { t: 'changeset'; version: number; bytes: ArrayBuffer }
  /** v1 committed `version`; `keys` and `values` (packed, transferred): its batch's puts, when kept. */
  | { t: 'confirm'; version: number; keys?: ArrayBuffer; values?: ArrayBuffer }
  | { t: 'discard'; id: number; version: number }
  | { t: 'pause' }
  | { t: 'resume' }
  | { t: 'throttle'; rate: number | undefined }
  /** Stop syncing, close v2 and say `stopped`: the switch or the node's close. */
  | { t: 'stop' };

/** The migration's durable state, sent whenever it moves. */
export interface WorkerState {
  height: number;
  migratedVersion: number;
  scLatest: number;
  bufferFirst: number;
  bufferLast: number;
}

/**
 * A manager's WorkerState: what the worker reports as it goes, and what the node thread
 * starts a MigrationThread with.
 * @example
 * post({ t: 'state', state: workerState(manager) });
 */
export function workerState(m: MigrationManager): WorkerState {
  return {
    height: m.height,
    migratedVersion: m.migratedVersion,
    scLatest: m.stateCommitment?.latestVersion ?? 0,
    bufferFirst: m.buffer.first,
    bufferLast: m.buffer.last,
  };
}

/** Worker → node thread. */
export type FromWorker =
  | { t: 'state'; state: WorkerState }
  | { t: 'progress'; progress: MigrationProgress }
  | { t: 'migrated'; version: number; state: WorkerState }
  | { t: 'persisted'; version: number; state: WorkerState }
  | { t: 'persist-failed'; version: number; error: WireError }
  | { t: 'discarded'; id: number; error?: WireError }
  /** A pino line of the worker's logger, for the node's logger. */
  | { t: 'log'; line: string }
  /** The migration stopped: cleanly (no error) or failed; v2 is closed after `stopped`. */
  | { t: 'ended'; error?: WireError }
  | { t: 'stopped' };
