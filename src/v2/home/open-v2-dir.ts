import type { LevelDatabase } from '../../db/kv-db.js';
import { KvDb } from '../../db/kv-db.js';
import { type OpenDbOptions, openDb } from '../../db/open-db.js';
import { StoreMigrateError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { MultiStoreV1 } from '../../v1/multi-store-v1.js';
import { openV2Home, type V2Home } from './open-v2-home.js';

/** A v2 directory opened from its path: its database and its parts (openV2Home). */
export interface V2Parts extends V2Home {
  db: LevelDatabase;
}

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
    const { sc, ss, manager } = await openV2Home(new KvDb(db), v1, options);
    await manager.verifySource();
    return { db, sc, ss, manager };
  } catch (err) {
    // The open error is the one to report; a failing close must not hide it.
    await db.close().catch(() => {});
    throw err;
  }
}
