import { ClassicLevel } from 'classic-level';
import { StoreMigrateError } from '../errors.js';

/** One key: compacting [k, k] flushes the memtable and touches at most a file per level. */
const FLUSH_KEY = new Uint8Array([0]);

/**
 * classic-level, closed so that a Go node can reopen the database without losing writes.
 *
 * goleveldb, which cosmos-sdk nodes use, skips log records whose sequence number is below the
 * MANIFEST's last sequence ("journal error: batch corrupted: invalid sequence number
 * (skipped)"). C++ LevelDB records a compaction's last sequence while newer writes may still
 * be only in the log, so a Go node that reopens the database after us silently drops them.
 * Flushing the memtable into a table before closing leaves no log records to replay.
 */
export class FlushingLevel extends ClassicLevel<Uint8Array, Uint8Array> {
  /** False: close without the flush (for a handle this process reopens next; see openDb). */
  flushOnClose = true;
  /** Opened with classic-level's `multithreading`: other threads may open it too (see openDb). */
  shared = false;

  /**
   * Flushes the memtable, then closes.
   * @example
   * const db = new FlushingLevel(path, { keyEncoding: 'view', valueEncoding: 'view' });
   * await db.put(key, value);
   * await db.close(); // a Go node reopening `path` now sees `key`
   */
  override async close(): Promise<void> {
    let flushError: unknown;
    if (this.status === 'open' && this.flushOnClose) {
      try {
        await this.compactRange(FLUSH_KEY, FLUSH_KEY);
      } catch (err) {
        flushError = err;
      }
    }
    await super.close();
    if (flushError !== undefined) {
      throw new StoreMigrateError(
        'ERR_DB_IO',
        `could not flush ${this.location} before closing; a Go node may not see the last writes until this tool opens it again`,
        { cause: flushError, details: { path: this.location } },
      );
    }
  }
}
