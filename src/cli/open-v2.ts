import type { LevelDatabase } from '../db/kv-db.js';
import { KvDb } from '../db/kv-db.js';
import { type OpenDbOptions, openDb } from '../db/open-db.js';
import { utf8 } from '../encoding/bytes.js';
import { StoreMigrateError } from '../errors.js';
import type { Logger } from '../logger.js';
import { MigrationManager } from '../migration/migration-manager.js';
import { SnapshotsManager } from '../snapshots/snapshots-manager.js';
import type { MultiStoreV1 } from '../v1/multi-store-v1.js';
import { StateCommitment } from '../v2/commitment/state-commitment.js';
import { StateStorage } from '../v2/storage/state-storage.js';

/** The parts of a v2 directory, laid out as a node home's `v2/`: SC at the root, SS under `ss/`, migration under `m/`. */
export interface V2Parts {
  db: LevelDatabase;
  sc: StateCommitment;
  ss: StateStorage;
  manager: MigrationManager;
}

export const SS_PREFIX = utf8('ss/');

/** Opens (creating if needed) a v2 directory against a v1 store; a lock held by a running node is a clear error. */
export async function openV2(
  path: string,
  v1: MultiStoreV1,
  options: {
    logger?: Logger;
    throttle?: number;
    history?: number;
    create?: boolean;
    /** LevelDB sizes other than the defaults (benchmark experiments). */
    db?: Pick<OpenDbOptions, 'cacheSize' | 'writeBufferSize'>;
  } = {},
): Promise<V2Parts> {
  let db: LevelDatabase;
  try {
    db = await openDb(path, { ...options.db, createIfMissing: options.create ?? true });
  } catch (err) {
    if (err instanceof StoreMigrateError && err.code === 'ERR_DB_OPEN' && /lock/i.test(err.message)) {
      throw new StoreMigrateError(
        'ERR_DB_OPEN',
        `${path} is in use by another process (a running node?); stop it, or ask it over RPC (migration_status)`,
        { cause: err },
      );
    }
    throw err;
  }
  try {
    const kv = new KvDb(db);
    const sc = await StateCommitment.open(kv);
    const ss = new StateStorage(kv, { prefix: SS_PREFIX });
    await ss.open();
    const manager = new MigrationManager({
      db: kv,
      snapshots: new SnapshotsManager(v1, { logger: options.logger }),
      stateStorage: ss,
      stateCommitment: sc,
      logger: options.logger,
      throttle: options.throttle,
      history: options.history,
    });
    await manager.open();
    await manager.verifySource();
    return { db, sc, ss, manager };
  } catch (err) {
    // The open error is the one to report; a failing close must not hide it.
    await db.close().catch(() => {});
    throw err;
  }
}
