import type { AbstractLevel } from 'abstract-level';
import { arenaAlloc } from '../encoding/byte-arena.js';
import { concatBytes, EMPTY, prefixEnd, toPlainBytes } from '../encoding/bytes.js';
import { StoreMigrateError } from '../errors.js';
import { NativeBatchPath, type NativeChainedBatch } from './native-batch.js';

/** Any abstract-level database (classic-level, memory-level, ...), however the caller opened it. */
// biome-ignore lint/suspicious/noExplicitAny: abstract-level databases differ in their type parameters.
export type LevelDatabase = AbstractLevel<any, any, any>;

export interface RangeOptions {
  gt?: Uint8Array;
  gte?: Uint8Array;
  lt?: Uint8Array;
  lte?: Uint8Array;
  reverse?: boolean;
  limit?: number;
}

// We always pass these, so the caller's default encodings never matter.
const VIEW = { keyEncoding: 'view', valueEncoding: 'view' } as const;
const ITER_CHUNK = 1000;

/**
 * A key-prefixed view of a database with Uint8Array keys and values. All Buffers that
 * abstract-level returns are turned into plain Uint8Arrays here, at the boundary.
 * Writes take an optional WriteBatch so that several views can commit atomically together.
 */
export class KvDb {
  readonly db: LevelDatabase;
  readonly prefix: Uint8Array;
  readonly #end: Uint8Array | undefined;

  constructor(db: LevelDatabase, prefix: Uint8Array = EMPTY) {
    this.db = db;
    this.prefix = prefix;
    this.#end = prefix.length > 0 ? prefixEnd(prefix) : undefined;
  }

  sub(prefix: Uint8Array): KvDb {
    return new KvDb(this.db, concatBytes(this.prefix, prefix));
  }

  key(k: Uint8Array): Uint8Array {
    return this.prefix.length === 0 ? k : concatBytes(this.prefix, k);
  }

  /**
   * The full key of `tag` + `body` in this view, in one allocation from the arena: only for
   * keys that go straight into a write batch or a batched read (tree nodes by the thousand).
   */
  batchKey(tag: number, body: Uint8Array): Uint8Array {
    const p = this.prefix;
    const out = arenaAlloc(p.length + 1 + body.length);
    out.set(p, 0);
    out[p.length] = tag;
    out.set(body, p.length + 1);
    return out;
  }

  get supportsGetSync(): boolean {
    return (this.db.supports as { getSync?: boolean }).getSync === true;
  }

  async get(k: Uint8Array): Promise<Uint8Array | undefined> {
    try {
      const v = await this.db.get(this.key(k), VIEW);
      return v === undefined ? undefined : toPlainBytes(v);
    } catch (err) {
      throw StoreMigrateError.from(err, 'ERR_DB_IO', 'database read failed');
    }
  }

  /** A synchronous point read (classic-level and memory-level support it). */
  getSync(k: Uint8Array): Uint8Array | undefined {
    let v: Uint8Array | undefined;
    try {
      v = this.db.getSync(this.key(k), VIEW);
    } catch (err) {
      throw StoreMigrateError.from(err, 'ERR_DB_IO', 'database read failed');
    }
    return v === undefined ? undefined : toPlainBytes(v);
  }

  getMany(keys: Uint8Array[]): Promise<Array<Uint8Array | undefined>> {
    return this.getManyFull(keys.map((k) => this.key(k)));
  }

  /**
   * As getMany, for keys that already carry this view's prefix (made with batchKey): a tree's
   * read-ahead then builds each key once, not twice.
   * @example
   * const raws = await kv.getManyFull(refs.map((r) => kv.batchKey(0x73, r)));
   */
  async getManyFull(keys: Uint8Array[]): Promise<Array<Uint8Array | undefined>> {
    if (keys.length === 0) return [];
    let values: Array<Uint8Array | undefined>;
    try {
      values = await this.db.getMany(keys, VIEW);
    } catch (err) {
      throw StoreMigrateError.from(err, 'ERR_DB_IO', 'database read failed');
    }
    return values.map((v) => (v === undefined ? undefined : toPlainBytes(v)));
  }

  async put(k: Uint8Array, v: Uint8Array, batch?: WriteBatch): Promise<void> {
    if (batch) {
      batch.put(this.key(k), v);
      return;
    }
    try {
      await this.db.put(this.key(k), v, VIEW);
    } catch (err) {
      throw StoreMigrateError.from(err, 'ERR_DB_IO', 'database write failed');
    }
  }

  async del(k: Uint8Array, batch?: WriteBatch): Promise<void> {
    if (batch) {
      batch.del(this.key(k));
      return;
    }
    try {
      await this.db.del(this.key(k), VIEW);
    } catch (err) {
      throw StoreMigrateError.from(err, 'ERR_DB_IO', 'database write failed');
    }
  }

  batch(): WriteBatch {
    return new WriteBatch(this.db);
  }

  #range(opts: RangeOptions): Record<string, unknown> {
    const range: Record<string, unknown> = { ...VIEW, reverse: opts.reverse === true };
    if (opts.limit !== undefined) range.limit = opts.limit;
    if (opts.gt) range.gt = this.key(opts.gt);
    else if (opts.gte) range.gte = this.key(opts.gte);
    else if (this.prefix.length > 0) range.gte = this.prefix;
    if (opts.lt) range.lt = this.key(opts.lt);
    else if (opts.lte) range.lte = this.key(opts.lte);
    else if (this.#end) range.lt = this.#end;
    return range;
  }

  /** Entries in key order (or reverse), keys without this view's prefix. Reads in chunks. */
  async *iterate(opts: RangeOptions = {}): AsyncGenerator<[Uint8Array, Uint8Array]> {
    const it = this.db.iterator(this.#range(opts));
    const plen = this.prefix.length;
    try {
      for (;;) {
        let chunk: Array<[Uint8Array, Uint8Array]>;
        try {
          chunk = await it.nextv(ITER_CHUNK);
        } catch (err) {
          throw StoreMigrateError.from(err, 'ERR_DB_IO', 'database iteration failed');
        }
        if (chunk.length === 0) return;
        for (const [k, v] of chunk) {
          const key = toPlainBytes(k);
          yield [plen === 0 ? key : key.subarray(plen), toPlainBytes(v)];
        }
      }
    } finally {
      await it.close();
    }
  }

  /**
   * Every entry of a range at once (keys without this view's prefix): one call to the
   * database, so one round trip where that costs one (the migration worker's v1). For
   * ranges known to be small.
   * @example
   * const rows = await kv.entries({ gte: start, lt: end });
   */
  async entries(opts: RangeOptions = {}): Promise<Array<[Uint8Array, Uint8Array]>> {
    let all: Array<[Uint8Array, Uint8Array]>;
    try {
      all = await this.db.iterator(this.#range(opts)).all();
    } catch (err) {
      throw StoreMigrateError.from(err, 'ERR_DB_IO', 'database iteration failed');
    }
    const plen = this.prefix.length;
    return all.map(([k, v]) => {
      const key = toPlainBytes(k);
      return [plen === 0 ? key : key.subarray(plen), toPlainBytes(v)];
    });
  }

  async *keys(opts: RangeOptions = {}): AsyncGenerator<Uint8Array> {
    const it = this.db.keys(this.#range(opts));
    const plen = this.prefix.length;
    try {
      for (;;) {
        let chunk: Uint8Array[];
        try {
          chunk = await it.nextv(ITER_CHUNK);
        } catch (err) {
          throw StoreMigrateError.from(err, 'ERR_DB_IO', 'database iteration failed');
        }
        if (chunk.length === 0) return;
        for (const k of chunk) {
          const key = toPlainBytes(k);
          yield plen === 0 ? key : key.subarray(plen);
        }
      }
    } finally {
      await it.close();
    }
  }

  /** Deletes every key in this view (or in a range of it), in bounded batches. */
  async clear(opts: RangeOptions = {}): Promise<number> {
    let n = 0;
    let batch = this.batch();
    for await (const k of this.keys(opts)) {
      batch.del(this.key(k));
      n++;
      if (batch.length >= 10_000) {
        await batch.write();
        batch = this.batch();
      }
    }
    await batch.write();
    return n;
  }
}

/**
 * An atomic group of writes with full (already prefixed) keys. It counts operations and
 * bytes so that bulk writers can flush at a bounded size. Where the database has a native
 * batch path (NativeBatchPath), operations go straight into a native LevelDB batch.
 */
export class WriteBatch {
  readonly #db: LevelDatabase;
  #ops: Array<{ type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array }> = [];
  readonly #path: NativeBatchPath | undefined;
  /** Created at the first operation, so an unused batch holds nothing native. */
  #native: NativeChainedBatch | undefined;
  #length = 0;
  #bytes = 0;
  #written = false;

  constructor(db: LevelDatabase) {
    this.#db = db;
    this.#path = NativeBatchPath.of(db);
  }

  get length(): number {
    return this.#length;
  }

  /** Whether the operations went straight into a native LevelDB batch (the fast path). */
  get isNative(): boolean {
    return this.#native !== undefined;
  }

  get byteLength(): number {
    return this.#bytes;
  }

  /**
   * Sees every put as it is added (the key as written, prefix included). RootStore hands the
   * nodes v1 writes for a block to the migration this way (CommitStore.commitVersion).
   */
  onPut: ((key: Uint8Array, value: Uint8Array) => void) | undefined;

  put(key: Uint8Array, value: Uint8Array): void {
    this.onPut?.(key, value);
    const native = this.#target();
    if (native) native._put(key, value);
    else this.#ops.push({ type: 'put', key, value });
    this.#length++;
    this.#bytes += key.length + value.length;
  }

  del(key: Uint8Array): void {
    const native = this.#target();
    if (native) native._del(key);
    else this.#ops.push({ type: 'del', key });
    this.#length++;
    this.#bytes += key.length;
  }

  async write(): Promise<void> {
    if (this.#written) throw new StoreMigrateError('ERR_DB_IO', 'write batch already written');
    this.#written = true;
    try {
      if (this.#native) {
        if (this.#length > 0) {
          // The public write() would skip a batch filled through _put; the status check it
          // does is ours to do, since the database may have closed since the batch began.
          if (!this.#path!.open) {
            throw new StoreMigrateError('ERR_DB_IO', `database is ${this.#path!.status}: batch not written`);
          }
          await this.#native._write({});
        }
      } else if (this.#ops.length > 0) {
        await this.#db.batch(this.#ops, VIEW);
      }
    } catch (err) {
      throw StoreMigrateError.from(err, 'ERR_DB_IO', 'database batch write failed');
    } finally {
      this.discard();
    }
  }

  /** Releases a batch that will not be written (a written one is released already). */
  discard(): void {
    this.#written = true;
    this.#ops = [];
    const native = this.#native;
    this.#native = undefined;
    if (native) this.#path!.release(native);
  }

  /** The native batch to add to, or undefined for the array; throws once written. */
  #target(): NativeChainedBatch | undefined {
    if (this.#written) throw new StoreMigrateError('ERR_DB_IO', 'write batch already written');
    if (this.#length === 0 && this.#path?.usable) this.#native = this.#path.acquire();
    return this.#native;
  }
}
