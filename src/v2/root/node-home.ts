import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { LevelDatabase } from '../../db/kv-db.js';
import { type OpenDbOptions, openDb, V2_MAX_FILE_SIZE } from '../../db/open-db.js';
import { StoreMigrateError } from '../../errors.js';

/** A node home: `application.db` is store v1 (cosmos layout), `v2/` holds store v2 and the migration state. */
export interface NodeHome {
  home: string;
  v1Path: string;
  v2Path: string;
  v1: LevelDatabase;
  v2: LevelDatabase;
  close(): Promise<void>;
}

export function homePaths(home: string): { v1Path: string; v2Path: string } {
  return { v1Path: join(home, 'application.db'), v2Path: join(home, 'v2') };
}

/**
 * How a node home opens its databases; for code that opens them itself as a node does (the
 * benchmarks). Both shared (classic-level's `multithreading`): the migration worker reads v1
 * on its own thread, not through the node's, and v2 changes hands at the switch without
 * LevelDB closing (which waits for a running compaction) or replaying its log. v2 with small
 * table files: see V2_MAX_FILE_SIZE.
 */
export const NODE_HOME_DB_OPTIONS = {
  v1: { multithreading: true },
  v2: { multithreading: true, maxFileSize: V2_MAX_FILE_SIZE },
} as const satisfies Record<'v1' | 'v2', OpenDbOptions>;

/** Opens both databases of a home; `create` makes a new home, otherwise the home must exist. */
export async function openNodeHome(home: string, options: { create?: boolean } = {}): Promise<NodeHome> {
  const { v1Path, v2Path } = homePaths(home);
  if (!options.create) {
    if (!existsSync(home) || !statSync(home).isDirectory()) {
      throw new StoreMigrateError('ERR_NOT_FOUND', `no node home at ${home}: the directory does not exist`);
    }
    if (!existsSync(v1Path)) {
      throw new StoreMigrateError('ERR_NOT_FOUND', `${home} is not a node home: it has no application.db`);
    }
  } else {
    mkdirSync(home, { recursive: true });
  }
  const v1 = await openDb(v1Path, NODE_HOME_DB_OPTIONS.v1);
  let v2: LevelDatabase;
  try {
    v2 = await openDb(v2Path, NODE_HOME_DB_OPTIONS.v2);
  } catch (err) {
    await v1.close();
    throw err;
  }
  return {
    home,
    v1Path,
    v2Path,
    v1,
    v2,
    close: async () => {
      await Promise.allSettled([v1.close(), v2.close()]);
    },
  };
}
