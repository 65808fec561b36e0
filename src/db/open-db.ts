import { existsSync, statSync } from 'node:fs';
import { StoreMigrateError } from '../errors.js';
import { FlushingLevel } from './flushing-level.js';
import type { LevelDatabase } from './kv-db.js';
import { NativeBatchPath } from './native-batch.js';

export interface OpenDbOptions {
  /** Create the database when the directory is missing or empty. Default true. */
  createIfMissing?: boolean;
  /** LevelDB block cache in bytes. Default 8 MiB. */
  cacheSize?: number;
  /** LevelDB memtable size in bytes. Default 4 MiB. */
  writeBufferSize?: number;
  /**
   * LevelDB table file size in bytes. Default 16 MiB: fewer files and less compaction under
   * bulk writes. A compaction takes up to 25 files' worth, so smaller files keep each one short
   * (the migration worker writes v2 in LevelDB's own 2 MiB: migration-worker.ts says why).
   */
  maxFileSize?: number;
  /**
   * Write batches straight into native LevelDB batches (NativeBatchPath). Default true; false
   * takes abstract-level's public batch() (slower), e.g. to rule the fast path out.
   */
  nativeBatch?: boolean;
  /**
   * Flush the memtable when closing (FlushingLevel), so a Go node can reopen the database.
   * Default true; false only where this process reopens it next (the migration worker hands
   * v2 back to the node thread at the switch, and flushing would hold that block up).
   */
  flushOnClose?: boolean;
  /**
   * Let other threads of this process open the same directory (classic-level's
   * `multithreading`; every such open shares one LevelDB). Default false: a second open then
   * fails as locked. Node homes open v1 so, for the migration worker to read it on its own
   * thread; the worker's own open must pass it too.
   */
  multithreading?: boolean;
}

const DEFAULT_MAX_FILE_SIZE = 16 * 1024 * 1024;

/**
 * Table file size of v2 while a migration writes it. LevelDB runs every database's compactions
 * on one background thread per process, in turn, and a compaction runs to its end: the node's
 * v1 memtable flush waits behind whatever v2 compaction is running, and its commit stalls on a
 * full memtable meanwhile. A compaction takes up to 25 files' worth, so v2's files stay at
 * LevelDB's own 2 MiB instead of openDb's 16 MiB: in bench commit-latency (1,000 blocks) the v1
 * write of the 10 slowest blocks during the migration fell from 710 to 91 ms.
 */
export const V2_MAX_FILE_SIZE = 2 * 1024 * 1024;

/**
 * Opens a LevelDB directory with classic-level, keys and values as Uint8Array. Closing it
 * flushes the memtable first, so the Go nodes that own these databases can reopen them
 * (see FlushingLevel).
 */
export async function openDb(path: string, options: OpenDbOptions = {}): Promise<LevelDatabase> {
  const createIfMissing = options.createIfMissing ?? true;
  if (!createIfMissing) {
    if (!existsSync(path)) {
      throw new StoreMigrateError('ERR_NOT_FOUND', `no database at ${path}: the directory does not exist`, {
        details: { path },
      });
    }
    if (!statSync(path).isDirectory()) {
      throw new StoreMigrateError('ERR_DB_OPEN', `${path} is not a directory`, { details: { path } });
    }
  }
  const db = new FlushingLevel(path, {
    keyEncoding: 'view',
    valueEncoding: 'view',
    createIfMissing,
    // LevelDB's own defaults: the IAVL node caches sit above the block cache, and bigger
    // caches and memtables measured no faster in the migrate benchmark while costing about
    // 110 MiB of resident memory (benchmarks/README.md, memory).
    cacheSize: options.cacheSize ?? 8 * 1024 * 1024,
    writeBufferSize: options.writeBufferSize ?? 4 * 1024 * 1024,
    maxFileSize: options.maxFileSize ?? DEFAULT_MAX_FILE_SIZE,
  });
  try {
    await db.open({ multithreading: options.multithreading ?? false });
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause;
    const detail = cause?.message ?? (err instanceof Error ? err.message : String(err));
    throw new StoreMigrateError('ERR_DB_OPEN', `cannot open database at ${path}: ${detail}`, {
      cause: err,
      details: { path },
    });
  }
  if (options.nativeBatch === false) NativeBatchPath.setEnabled(db, false);
  if (options.flushOnClose === false) db.flushOnClose = false;
  db.shared = options.multithreading ?? false;
  return db;
}
