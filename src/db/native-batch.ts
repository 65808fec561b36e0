import type { AbstractLevel } from 'abstract-level';
import { ClassicLevel } from 'classic-level';

// biome-ignore lint/suspicious/noExplicitAny: any abstract-level database (kv-db's LevelDatabase, without importing it back).
type LevelDatabase = AbstractLevel<any, any, any>;

/**
 * classic-level's chained batch below its public API (classic-level 3.0.0, pinned; the contract
 * test in test/db/native-batch.test.ts checks it): `_put`/`_del` copy an operation straight into
 * the native LevelDB batch, `_write` writes it, `_clear` empties it for reuse.
 */
export interface NativeChainedBatch {
  _put(key: Uint8Array, value: Uint8Array): void;
  _del(key: Uint8Array): void;
  _clear(): void;
  _write(options: object): Promise<void>;
  close(): Promise<void>;
}

/** Cleared native batches ready for reuse, per database; a few cover concurrent writers. */
const POOL_SIZE = 4;

/**
 * The fast write path of one database, decided once: on a classic-level database (or a subclass
 * that leaves batches alone, such as FlushingLevel), WriteBatch copies each operation into a
 * pooled native batch as it is added, at half the cost of handing LevelDB an array of operation
 * objects. Native batches are pooled and cleared for reuse, because classic-level frees one only
 * when its JS object is garbage-collected: made afresh, written batches piled up outside the V8
 * heap (100+ MiB in a migration) until a collection came. Any other database, or one for which
 * the path is switched off, writes through abstract-level's public batch().
 */
export class NativeBatchPath {
  readonly #db: LevelDatabase;
  #pool: NativeChainedBatch[] = [];

  private constructor(db: LevelDatabase) {
    this.#db = db;
    // A closed database closes its batches; a reopened one starts a new pool.
    db.on('closing', () => {
      this.#pool = [];
    });
  }

  /**
   * The native path of `db`, probed once per database (undefined: use the public API).
   * @example
   * const native = NativeBatchPath.of(db);
   * if (native) { const b = native.acquire(); b._put(k, v); await b._write({}); native.release(b); }
   */
  static of(db: LevelDatabase): NativeBatchPath | undefined {
    let path = probed.get(db);
    if (path === undefined) {
      path = supportsNativeBatch(db) ? new NativeBatchPath(db) : null;
      probed.set(db, path);
    }
    return path ?? undefined;
  }

  /**
   * Turns the native path of `db` off (or back on, where the database supports it), e.g. to
   * compare both paths or to rule it out.
   * @example
   * NativeBatchPath.setEnabled(db, false); // every WriteBatch of db now uses db.batch([...])
   */
  static setEnabled(db: LevelDatabase, enabled: boolean): void {
    probed.set(db, enabled && supportsNativeBatch(db) ? new NativeBatchPath(db) : null);
  }

  /** Whether the database can take a write now (the public write() checks this; we must too). */
  get open(): boolean {
    return this.#db.status === 'open';
  }

  /**
   * Whether a new batch may take this path now: the database is open and has no prewrite hook
   * (one added after opening would be bypassed; such a database takes the public path).
   */
  get usable(): boolean {
    return this.#db.status === 'open' && unhooked(this.#db);
  }

  get status(): string {
    return this.#db.status;
  }

  acquire(): NativeChainedBatch {
    return this.#pool.pop() ?? (this.#db.batch() as unknown as NativeChainedBatch);
  }

  /** Hands a batch back: cleared into the pool, or closed when the pool is full or the db closing. */
  release(batch: NativeChainedBatch): void {
    if (this.#db.status !== 'open' || this.#pool.length >= POOL_SIZE) {
      // A database that is closing frees its batches itself: a failed close loses nothing.
      batch.close().catch(() => {});
      return;
    }
    batch._clear();
    this.#pool.push(batch);
  }
}

const probed = new WeakMap<LevelDatabase, NativeBatchPath | null>();

/**
 * True for a classic-level database whose chained batch takes our Uint8Array keys and values
 * as they are. STORE_MIGRATE_NATIVE_BATCH=off turns the path off for the whole process.
 */
function supportsNativeBatch(db: LevelDatabase): boolean {
  if (process.env.STORE_MIGRATE_NATIVE_BATCH === 'off') return false;
  const batch = (db as unknown as { _chainedBatch?: unknown })._chainedBatch;
  return db instanceof ClassicLevel && typeof batch === 'function';
}

function unhooked(db: LevelDatabase): boolean {
  const hooks = (db as unknown as { hooks?: { prewrite?: { noop?: boolean } } }).hooks;
  return hooks?.prewrite?.noop ?? true;
}
