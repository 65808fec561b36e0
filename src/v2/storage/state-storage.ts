import { KvDb, type LevelDatabase } from '../../db/kv-db.js';
import { readU64be, u64be } from '../../encoding/byte-writer.js';
import { compareBytes, equalBytes, fromUtf8, prefixEnd, toHex, utf8 } from '../../encoding/bytes.js';
import type { Changeset } from '../../encoding/changeset.js';
import { StoreMigrateError } from '../../errors.js';
import {
  DATA_PREFIX,
  dataKey,
  decodeCheckpoint,
  decodeValue,
  encodeCheckpoint,
  encodeValue,
  isTombstone,
  keyPrefix,
  META_EARLIEST,
  META_LATEST,
  META_PREFIX,
  META_RESTORE,
  type RestoreCheckpoint,
  readTerm,
  storePrefix,
  termLength,
  versionOf,
} from './mvcc-key.js';

/** One leaf of a state snapshot: a key and its value in one store. */
export interface RestoreLeaf {
  store: string;
  key: Uint8Array;
  value: Uint8Array;
}

export interface RestoreResult {
  /** Leaves in the restored state, including those a resumed run skipped. */
  leaves: number;
  /** True when the run continued from an interrupted restore of the same version. */
  resumed: boolean;
}

export interface RestoreOptions {
  /** Flush a write batch (with its checkpoint) once it holds this many bytes. Default 4 MiB. */
  batchBytes?: number;
  /** Called after each written batch with the number of leaves written so far (all runs). */
  onProgress?: (leavesDone: number) => void;
  /** Checked between leaves; an abort throws `signal.reason` and keeps the checkpoint. */
  signal?: AbortSignal;
}

export interface StateStorageOptions {
  /** Key prefix of the storage inside the database. Default: none. */
  prefix?: Uint8Array;
}

const DEFAULT_BATCH_BYTES = 4 * 1024 * 1024;
const PRUNE_BATCH_OPS = 10_000;

/**
 * The store v2 StateStorage: a flat MVCC key-value store. Every change of a key is a row
 * keyed by (store, key, version); a read at version v takes the newest row <= v. Versions
 * are contiguous from `earliestVersion` to `latestVersion`.
 */
export class StateStorage {
  readonly kv: KvDb;
  readonly #data: KvDb;
  readonly #meta: KvDb;
  #opened = false;
  #latest = 0;
  #earliest = 0;
  #checkpoint: RestoreCheckpoint | undefined;
  /** Serialises applyChangeset and restore. */
  #writeLock: Promise<unknown> = Promise.resolve();
  /**
   * Serialises prunes. A prune may run alongside applyChangeset: it only deletes rows at or
   * below its version, which new versions never write, and no version >= it reads.
   */
  #pruneLock: Promise<unknown> = Promise.resolve();

  private constructor(db: LevelDatabase | KvDb, options: StateStorageOptions) {
    const base = db instanceof KvDb ? db : new KvDb(db);
    this.kv = options.prefix && options.prefix.length > 0 ? base.sub(options.prefix) : base;
    this.#data = this.kv.sub(Uint8Array.of(DATA_PREFIX));
    this.#meta = this.kv.sub(Uint8Array.of(META_PREFIX));
  }

  /**
   * Opens a StateStorage in `db` (under `options.prefix`), loading its metadata.
   * @example
   * const ss = await StateStorage.open(db, { prefix: V2Keys.ssPrefix });
   * await ss.get('bank', key, ss.latestVersion);
   */
  static async open(db: LevelDatabase | KvDb, options: StateStorageOptions = {}): Promise<StateStorage> {
    const ss = new StateStorage(db, options);
    await ss.#load();
    return ss;
  }

  async #load(): Promise<void> {
    const [latest, earliest, restore] = await this.#meta.getMany([META_LATEST, META_EARLIEST, META_RESTORE]);
    this.#latest = latest === undefined ? 0 : readVersion(latest, 'latest');
    this.#earliest = earliest === undefined ? 0 : readVersion(earliest, 'earliest');
    this.#checkpoint = restore === undefined ? undefined : decodeCheckpoint(restore);
    this.#opened = true;
  }

  get latestVersion(): number {
    this.#assertOpen();
    return this.#latest;
  }

  get earliestVersion(): number {
    this.#assertOpen();
    return this.#earliest;
  }

  /** The value of `key` in `store` as of `version` (undefined when absent or deleted). */
  async get(store: string, key: Uint8Array, version: number): Promise<Uint8Array | undefined> {
    this.#checkReadVersion(version);
    const pfx = keyPrefix(storePrefix(utf8(store)), key);
    const upper = new Uint8Array(pfx.length + 8);
    upper.set(pfx, 0);
    upper.set(u64be(version), pfx.length);
    // The newest row of this key at or below `version`: one seek, one row.
    for await (const [, raw] of this.#data.iterate({ gte: pfx, lte: upper, reverse: true, limit: 1 })) {
      return decodeValue(raw);
    }
    return undefined;
  }

  async has(store: string, key: Uint8Array, version: number): Promise<boolean> {
    return (await this.get(store, key, version)) !== undefined;
  }

  /**
   * Each live key of `store` in [start, end) once, with its value as of `version`, in key
   * order (or reverse). Deleted keys are skipped.
   */
  async *iterate(
    store: string,
    version: number,
    range: { start?: Uint8Array; end?: Uint8Array } = {},
    options: { reverse?: boolean } = {},
  ): AsyncGenerator<[Uint8Array, Uint8Array]> {
    this.#checkReadVersion(version);
    const spfx = storePrefix(utf8(store));
    const gte = range.start ? keyPrefix(spfx, range.start) : spfx;
    const lt = range.end ? keyPrefix(spfx, range.end) : prefixEnd(spfx)!;
    if (compareBytes(gte, lt) >= 0) return;
    const reverse = options.reverse === true;
    const rows = this.#data.iterate({ gte, lt, reverse });
    const slen = spfx.length;

    if (reverse) {
      // Versions of a key arrive newest first: the first one <= version decides the key.
      let done: Uint8Array | undefined; // the encoded key already decided
      for await (const [row, raw] of rows) {
        const ek = row.subarray(slen, row.length - 8);
        if (done !== undefined && equalBytes(ek, done)) continue;
        if (versionOf(row) > version) continue;
        done = ek;
        const value = decodeValue(raw);
        if (value !== undefined) yield [readTerm(row, slen)[0], value];
      }
      return;
    }

    // Versions of a key arrive oldest first: remember the newest one <= version until the key changes.
    let curKey: Uint8Array | undefined;
    let curRow: Uint8Array | undefined;
    let curRaw: Uint8Array | undefined;
    for await (const [row, raw] of rows) {
      const ek = row.subarray(slen, row.length - 8);
      if (curKey === undefined || !equalBytes(ek, curKey)) {
        if (curRow !== undefined) {
          const value = decodeValue(curRaw!);
          if (value !== undefined) yield [readTerm(curRow, slen)[0], value];
        }
        curKey = ek;
        curRow = undefined;
        curRaw = undefined;
      }
      if (versionOf(row) <= version) {
        curRow = row;
        curRaw = raw;
      }
    }
    if (curRow !== undefined) {
      const value = decodeValue(curRaw!);
      if (value !== undefined) yield [readTerm(curRow, slen)[0], value];
    }
  }

  /**
   * Writes `cs` as `version` in one atomic batch together with the new latest version.
   * The version must be latest + 1 (any version when empty). Nothing is written on error.
   */
  applyChangeset(version: number, cs: Changeset): Promise<void> {
    return this.#exclusive(async () => {
      this.#assertOpen();
      checkWriteVersion(version);
      if (this.#checkpoint !== undefined) {
        throw new StoreMigrateError(
          'ERR_SNAPSHOT_IN_PROGRESS',
          `a restore of version ${this.#checkpoint.version} is in progress; finish it before applying changesets`,
          { details: { version, restoreVersion: this.#checkpoint.version } },
        );
      }
      if (this.#latest > 0) {
        if (version <= this.#latest) {
          throw new StoreMigrateError('ERR_VERSION_EXISTS', `version ${version} already exists`, {
            details: { version, latest: this.#latest },
          });
        }
        if (version > this.#latest + 1) {
          throw new StoreMigrateError(
            'ERR_CHANGESET_GAP',
            `changeset version ${version} does not follow latest version ${this.#latest}`,
            { details: { version, latest: this.#latest } },
          );
        }
      }
      for (const sc of cs.changes) {
        for (const p of sc.pairs) {
          if (p.key.length === 0) {
            throw new StoreMigrateError('ERR_EMPTY_KEY', `empty key in store ${sc.store}`, {
              details: { version, store: sc.store },
            });
          }
        }
      }
      const batch = this.kv.batch();
      for (const sc of cs.changes) {
        const spfx = storePrefix(utf8(sc.store));
        for (const p of sc.pairs) {
          // A later pair for the same key writes the same row again; batches apply in order.
          const value = p.remove ? undefined : (p.value ?? new Uint8Array(0));
          batch.put(this.#data.key(dataKey(spfx, p.key, version)), encodeValue(value));
        }
      }
      const first = this.#latest === 0;
      batch.put(this.#meta.key(META_LATEST), u64be(version));
      if (first) batch.put(this.#meta.key(META_EARLIEST), u64be(version));
      await batch.write();
      this.#latest = version;
      if (first) this.#earliest = version;
    });
  }

  /**
   * Bulk-loads the full state at `version` from leaves sorted by store name (UTF-8 bytes),
   * then key. Writes bounded batches, each with a checkpoint; an interrupted restore of the
   * same version resumes after its checkpoint.
   */
  restore(
    version: number,
    leaves: AsyncIterable<RestoreLeaf> | Iterable<RestoreLeaf>,
    options: RestoreOptions = {},
  ): Promise<RestoreResult> {
    return this.#exclusive(async () => {
      this.#assertOpen();
      checkWriteVersion(version);
      const signal = options.signal;
      signal?.throwIfAborted();
      const batchBytes = options.batchBytes ?? DEFAULT_BATCH_BYTES;
      const cp = await this.#restoreCheckpointFor(version);
      const resumed = cp !== undefined;
      let count = cp?.count ?? 0;
      let lastStore: Uint8Array | undefined;
      let lastKey: Uint8Array | undefined;
      let skipping = cp !== undefined;
      let storeName: string | undefined;
      let storeBytes: Uint8Array | undefined;
      let spfx: Uint8Array | undefined;
      let batch = this.kv.batch();

      for await (const leaf of leaves) {
        if (signal?.aborted) throw signal.reason;
        if (leaf.key.length === 0) {
          throw new StoreMigrateError('ERR_EMPTY_KEY', `empty key in store ${leaf.store}`, {
            details: { version, store: leaf.store },
          });
        }
        if (leaf.store !== storeName) {
          storeName = leaf.store;
          storeBytes = utf8(leaf.store);
          spfx = storePrefix(storeBytes);
        }
        if (lastStore !== undefined && !isAfter(storeBytes!, leaf.key, lastStore, lastKey!)) {
          throw new StoreMigrateError(
            'ERR_SNAPSHOT_ORDER',
            `restore leaf ${leaf.store}/${toHex(leaf.key)} is not after the previous leaf`,
            { details: { version, store: leaf.store } },
          );
        }
        lastStore = storeBytes!;
        lastKey = leaf.key.slice();
        if (skipping) {
          if (!isAfter(storeBytes!, leaf.key, cp!.store, cp!.key)) continue;
          skipping = false;
        }
        batch.put(this.#data.key(dataKey(spfx!, leaf.key, version)), encodeValue(leaf.value));
        count++;
        if (batch.byteLength >= batchBytes) {
          const next: RestoreCheckpoint = { version, count, store: lastStore, key: lastKey };
          batch.put(this.#meta.key(META_RESTORE), encodeCheckpoint(next));
          await batch.write();
          this.#checkpoint = next;
          batch = this.kv.batch();
          options.onProgress?.(count);
        }
      }
      if (signal?.aborted) throw signal.reason;
      batch.put(this.#meta.key(META_LATEST), u64be(version));
      batch.put(this.#meta.key(META_EARLIEST), u64be(version));
      batch.del(this.#meta.key(META_RESTORE));
      await batch.write();
      this.#checkpoint = undefined;
      this.#latest = version;
      this.#earliest = version;
      options.onProgress?.(count);
      return { leaves: count, resumed };
    });
  }

  /**
   * The checkpoint a restore of `version` resumes from, if any. A storage that already holds
   * versions cannot be restored into; a partial restore of another version is cleared.
   */
  async #restoreCheckpointFor(version: number): Promise<RestoreCheckpoint | undefined> {
    if (this.#latest > 0) {
      throw new StoreMigrateError(
        'ERR_VERSION_EXISTS',
        `cannot restore version ${version} into a storage that holds versions up to ${this.#latest}`,
        { details: { version, latest: this.#latest } },
      );
    }
    const cp = this.#checkpoint;
    if (cp !== undefined && cp.version !== version) {
      // A partial restore of another version: its rows are useless. The checkpoint goes last
      // so that a crash while clearing still clears again next time.
      await this.#data.clear();
      await this.#meta.del(META_RESTORE);
      this.#checkpoint = undefined;
      return undefined;
    }
    return cp;
  }

  /**
   * Removes what no version >= `version` can read: for each key, the rows older than its
   * newest row <= `version`, and that row too when it is a tombstone. Sets earliest first,
   * so readers never see a half-pruned version.
   */
  prune(version: number): Promise<void> {
    return this.#exclusivePrune(async () => {
      this.#assertOpen();
      if (!Number.isSafeInteger(version) || version < 0) {
        throw new StoreMigrateError('ERR_INVALID_PARAMS', `invalid version ${version}`, {
          details: { version },
        });
      }
      if (version > this.#latest) {
        throw new StoreMigrateError(
          'ERR_VERSION_NOT_FOUND',
          `cannot prune to version ${version}: latest is ${this.#latest}`,
          { details: { version, latest: this.#latest } },
        );
      }
      if (version <= this.#earliest) return;
      await this.#meta.put(META_EARLIEST, u64be(version));
      this.#earliest = version;

      let batch = this.kv.batch();
      const del = async (row: Uint8Array): Promise<void> => {
        batch.del(this.#data.key(row));
        if (batch.length >= PRUNE_BATCH_OPS || batch.byteLength >= DEFAULT_BATCH_BYTES) {
          await batch.write();
          batch = this.kv.batch();
        }
      };
      let curKey: Uint8Array | undefined; // row without its version
      let keep: Uint8Array | undefined; // newest row <= version of curKey so far
      let keepIsTombstone = false;
      const settle = async (): Promise<void> => {
        if (keep !== undefined && keepIsTombstone) await del(keep);
        keep = undefined;
      };
      for await (const [row, raw] of this.#data.iterate()) {
        const k = row.subarray(0, row.length - 8);
        if (curKey === undefined || !equalBytes(k, curKey)) {
          await settle();
          curKey = k;
        }
        if (versionOf(row) > version) {
          await settle();
          continue;
        }
        if (keep !== undefined) await del(keep);
        keep = row;
        keepIsTombstone = isTombstone(raw);
      }
      await settle();
      await batch.write();
    });
  }

  /** Names of the stores that hold any rows, in byte order of their UTF-8 names. */
  async stores(): Promise<string[]> {
    const names: string[] = [];
    let gte: Uint8Array | undefined;
    for (;;) {
      let row: Uint8Array | undefined;
      for await (const k of this.#data.keys({ gte, limit: 1 })) row = k;
      if (row === undefined) return names;
      const len = termLength(row, 0);
      const spfx = row.subarray(0, len);
      names.push(fromUtf8(readTerm(spfx, 0)[0]));
      gte = prefixEnd(spfx);
    }
  }

  #assertOpen(): void {
    if (!this.#opened) throw new StoreMigrateError('ERR_DB_OPEN', 'StateStorage.open() has not been called');
  }

  #checkReadVersion(version: number): void {
    this.#assertOpen();
    if (!Number.isSafeInteger(version) || version < 0 || this.#latest === 0 || version > this.#latest) {
      throw new StoreMigrateError(
        'ERR_VERSION_NOT_FOUND',
        this.#latest === 0
          ? `version ${version} does not exist: the storage is empty`
          : `version ${version} does not exist: latest is ${this.#latest}`,
        { details: { version, latest: this.#latest } },
      );
    }
    if (version < this.#earliest) {
      throw new StoreMigrateError(
        'ERR_VERSION_PRUNED',
        `version ${version} is pruned: earliest is ${this.#earliest}`,
        { details: { version, earliest: this.#earliest } },
      );
    }
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#writeLock.then(fn);
    this.#writeLock = run.catch(() => undefined);
    return run;
  }

  #exclusivePrune<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#pruneLock.then(fn);
    this.#pruneLock = run.catch(() => undefined);
    return run;
  }
}

function readVersion(raw: Uint8Array, what: string): number {
  if (raw.length !== 8) {
    throw new StoreMigrateError(
      'ERR_DB_IO',
      `corrupt StateStorage metadata: ${what} has ${raw.length} bytes`,
    );
  }
  return readU64be(raw, 0);
}

function checkWriteVersion(version: number): void {
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new StoreMigrateError('ERR_INVALID_PARAMS', `invalid version ${version}: must be an integer >= 1`, {
      details: { version },
    });
  }
}

/** Whether (store, key) sorts after (lastStore, lastKey): stores by UTF-8 bytes, then keys. */
function isAfter(store: Uint8Array, key: Uint8Array, lastStore: Uint8Array, lastKey: Uint8Array): boolean {
  const c = compareBytes(store, lastStore);
  return c > 0 || (c === 0 && compareBytes(key, lastKey) > 0);
}
