import { existsSync, readdirSync, statSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { KvDb } from '../db/kv-db.js';
import { openDb } from '../db/open-db.js';
import { fromUtf8 } from '../encoding/bytes.js';
import { StoreMigrateError } from '../errors.js';
import { changesetKey, V2Keys } from '../v2/home/v2-keys.js';

/** Where the journal of the v2 database at `v2Path` lives: beside it, never inside it. */
export function journalPath(v2Path: string): string {
  return `${v2Path}.journal`;
}

// Its changesets are deleted as soon as v2's buffer has them, so the memtable (about 100 KB a
// block) never fills before its last flush ended: a put never waits for the process's one
// LevelDB background thread.
const JOURNAL_WRITE_BUFFER = 16 * 1024 * 1024;

/**
 * The write-ahead journal of changesets of a migration on a worker thread: a small LevelDB of
 * its own beside v2, which the node thread (MigrationThread) owns. A block's changeset must be
 * durable before v1 commits the block. Made durable by the worker in v2, that put queued
 * behind the migration's bulk writes and, while v2's memtable waited for a flush, stalled for
 * up to two seconds (bench commit-latency); and it waited for the worker to get to it. Here
 * it is one small put into a database nothing else writes. The worker writes the changeset to
 * v2's changeset buffer (`m/cs_`) in the background, and once it has, the entry is deleted
 * here; fold() moves what a crash left into v2's buffer before anything reads that. The keys
 * are the buffer's own (changesetKey), so folding is a copy.
 */
export class ChangesetJournal {
  readonly #kv: KvDb;

  private constructor(kv: KvDb) {
    this.#kv = kv;
  }

  /**
   * Opens (or creates) the journal at `path`.
   * @example
   * const journal = await ChangesetJournal.open(journalPath(v2Path));
   * await journal.put(101, encodeChangeset(cs)); // durable: v1 may commit block 101
   */
  static async open(path: string): Promise<ChangesetJournal> {
    const db = await openDb(path, { writeBufferSize: JOURNAL_WRITE_BUFFER, flushOnClose: false });
    return new ChangesetJournal(new KvDb(db));
  }

  /** Writes changeset `version` (encodeChangeset bytes). */
  put(version: number, bytes: Uint8Array): Promise<void> {
    return this.#kv.put(changesetKey(version), bytes);
  }

  /** Deletes changeset `version` (v2's buffer has it, or v1 did not commit it). */
  delete(version: number): Promise<void> {
    return this.#kv.del(changesetKey(version));
  }

  /** Closes the journal and keeps it, for fold() at the next start. */
  async close(): Promise<void> {
    await this.#kv.db.close();
  }

  /**
   * Copies every changeset a journal at `path` holds into v2's changeset buffer (`v2`, the
   * whole v2 database) and removes the journal. Does nothing when there is none. Returns how
   * many it copied. A key that is not a changeset's means the directory is not a journal:
   * ERR_INVALID_CHANGESET, with v2 and the journal untouched.
   * @example
   * await ChangesetJournal.fold(journalPath(v2Path), new KvDb(v2Db)); // before v2's buffer is read
   */
  static async fold(path: string, v2: KvDb): Promise<number> {
    await rm(trashOf(path), { recursive: true, force: true }); // a removal a crash cut short
    if (!existsSync(path)) return 0;
    if (statSync(path).isDirectory() && !existsSync(join(path, 'CURRENT'))) {
      // LevelDB writes CURRENT before its first write can succeed: without it the journal was
      // cut off while being created and holds nothing.
      if (!readdirSync(path).every((f) => LEVELDB_FILE.test(f))) throw notAJournal(path);
      await removeDir(path);
      return 0;
    }
    const db = await openDb(path, { createIfMissing: false, flushOnClose: false });
    const journal = new KvDb(db);
    let entries: Array<[Uint8Array, Uint8Array]>;
    try {
      entries = await journal.entries();
    } finally {
      await db.close();
    }
    const bad = entries.find(([k]) => !isChangesetKey(fromUtf8(k)));
    if (bad !== undefined) throw notAJournal(path, fromUtf8(bad[0]));
    const batch = v2.batch();
    for (const [k, v] of entries) await v2.put(k, v, batch);
    await batch.write();
    await removeDir(path);
    return entries.length;
  }
}

const LEVELDB_FILE = /^(LOCK|LOG|LOG\.old|CURRENT|MANIFEST-\d+|\d+\.(log|ldb|sst|dbtmp))$/;

function notAJournal(path: string, key?: string): StoreMigrateError {
  return new StoreMigrateError('ERR_INVALID_CHANGESET', `${path} is not a changeset journal`, {
    details: { path, ...(key !== undefined ? { key } : {}) },
  });
}

function trashOf(path: string): string {
  return `${path}.removing`;
}

/** Renamed first, so a crash never leaves half a journal where fold() would read it. */
async function removeDir(path: string): Promise<void> {
  await rename(path, trashOf(path));
  await rm(trashOf(path), { recursive: true, force: true });
}

function isChangesetKey(k: string): boolean {
  const prefix = V2Keys.changesetPrefix;
  return (
    k.length === prefix.length + 16 && k.startsWith(prefix) && /^[0-9a-f]{16}$/.test(k.slice(prefix.length))
  );
}
