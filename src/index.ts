// The public API: the only entry users import. Grows with each layer (iavl, stores, migration).

export { KvDb, type LevelDatabase, WriteBatch } from './db/kv-db.js';
export { type OpenDbOptions, openDb } from './db/open-db.js';
export {
  type Changeset,
  decodeChangeset,
  encodeChangeset,
  type KVPair,
  type StoreChanges,
  type VersionedChangeset,
} from './encoding/changeset.js';
export { type ErrorCode, ErrorCodes, isStoreMigrateError, StoreMigrateError } from './errors.js';
