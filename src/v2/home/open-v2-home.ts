import type { KvDb } from '../../db/kv-db.js';
import type { Logger } from '../../logger.js';
import { MigrationManager } from '../../migration/migration-manager.js';
import { SnapshotsManager } from '../../snapshots/snapshots-manager.js';
import type { MultiStoreV1 } from '../../v1/multi-store-v1.js';
import { StateCommitment } from '../commitment/state-commitment.js';
import { StateStorage } from '../storage/state-storage.js';
import { V2Keys } from './v2-keys.js';

/** The parts of a v2 directory: StateCommitment at the root, StateStorage under `ss/`, the migration under `m/`. */
export interface V2Home {
  sc: StateCommitment;
  ss: StateStorage;
  manager: MigrationManager;
}

export interface OpenV2HomeOptions {
  logger?: Logger;
  /** Maximum leaves per second during the restore. */
  throttle?: number;
  /** Carry the last K versions into StateStorage. */
  history?: number;
  /** Snapshot stream queue size. */
  bufferSize?: number;
  /** Restore batch (and checkpoint) size in bytes. */
  batchBytes?: number;
  /** Replay a buffered changeset only once the node confirms its v1 commit (RootStore). */
  confirmCommits?: boolean;
  /** Where the sync keeps v1's handed-over writes beyond its memory budget (MigrationManager). */
  handoffSpillDir?: string;
  /** Bytes of v1's handed-over writes the sync keeps in memory (MigrationManager). */
  handoffBytes?: number;
}

/**
 * Opens the parts of a v2 directory against the v1 it migrates, the one way every caller
 * (RootStore, the CLI, benchmarks) does: StateCommitment (mounting v1's stores when v1 is new),
 * StateStorage, and a MigrationManager over both with its snapshots of v1.
 * @example
 * const { sc, ss, manager } = await openV2Home(new KvDb(v2Db), v1, { history: 20 });
 * await manager.migrate(v1.latestVersion);
 */
export async function openV2Home(
  v2: KvDb,
  v1: MultiStoreV1,
  options: OpenV2HomeOptions = {},
): Promise<V2Home> {
  const sc = await StateCommitment.open(v2, {
    stores: v1.latestVersion === 0 ? v1.storeNames() : undefined,
  });
  const ss = await StateStorage.open(v2, { prefix: V2Keys.ssPrefix });
  const manager = await MigrationManager.open({
    db: v2,
    snapshots: new SnapshotsManager(v1, { logger: options.logger }),
    stateStorage: ss,
    stateCommitment: sc,
    logger: options.logger,
    throttle: options.throttle,
    history: options.history,
    bufferSize: options.bufferSize,
    batchBytes: options.batchBytes,
    confirmCommits: options.confirmCommits,
    handoffSpillDir: options.handoffSpillDir,
    handoffBytes: options.handoffBytes,
  });
  return { sc, ss, manager };
}
