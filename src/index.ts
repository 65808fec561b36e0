// The public API: the only entry users import.

export { KvDb, type LevelDatabase, WriteBatch } from './db/kv-db.js';
export { type OpenDbOptions, openDb, V2_MAX_FILE_SIZE } from './db/open-db.js';
export {
  type Changeset,
  decodeChangeset,
  encodeChangeset,
  type KVPair,
  type StoreChanges,
  type VersionedChangeset,
} from './encoding/changeset.js';
export { type ErrorCode, ErrorCodes, isStoreMigrateError, StoreMigrateError } from './errors.js';
export {
  type ExportNode,
  ImmutableTree,
  type IterateOptions,
  type IterateRange,
} from './iavl/immutable-tree.js';
export { Importer, type ImporterOptions, type ImporterState } from './iavl/importer.js';
// tree engine
export { MutableTree, type MutableTreeOptions, type SaveResult } from './iavl/mutable-tree.js';
export type { TreeLayout } from './iavl/node-db.js';
export { EMPTY_HASH } from './iavl/node-hash.js';
export { createLogger, type Logger, silentLogger } from './logger.js';
export { ChangesetBuffer } from './migration/changeset-buffer.js';
export {
  type MigrateResult,
  MigrationManager,
  type MigrationManagerOptions,
} from './migration/migration-manager.js';
export {
  type LiveMigrationState,
  type MigrationStatus,
  migrationStatus,
  type PersistedMigrationState,
} from './migration/migration-status.js';
export type { MigrationPhase, MigrationProgress } from './migration/progress.js';
export { type StoreVerification, type VerifyResult, verifyMigration } from './migration/verify.js';
// stores
export type { CommitInfo, StoreInfo } from './multistore/commit-info.js';
export type { ProofOp, ProofOps, QueryResult } from './multistore/proof-ops.js';
// rpc
export { type RpcServer, type RpcServerOptions, startRpcServer } from './rpc/rpc-server.js';
export { decodeSnapshotItem, encodeSnapshotItem, type SnapshotItem } from './snapshots/snapshot-item.js';
export { SnapshotsManager } from './snapshots/snapshots-manager.js';
// migration
export { MigrationStream } from './stream/migration-stream.js';
export { MultiStoreV1, type MultiStoreV1Options, type V1Layout } from './v1/multi-store-v1.js';
export { StateCommitment, type StateCommitmentOptions } from './v2/commitment/state-commitment.js';
export { type OpenV2HomeOptions, openV2Home, type V2Home } from './v2/home/open-v2-home.js';
export { changesetKey, scRestoreStoreKey, V2Keys } from './v2/home/v2-keys.js';
export { type NodeHome, openNodeHome } from './v2/root/node-home.js';
export {
  type CommitTiming,
  RootStore,
  type RootStoreEvent,
  type RootStoreOptions,
} from './v2/root/root-store.js';
export { type RestoreLeaf, type RestoreResult, StateStorage } from './v2/storage/state-storage.js';
