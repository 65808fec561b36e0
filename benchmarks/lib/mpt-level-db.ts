import type { MPTOpts } from '@ethereumjs/mpt';
import type { LevelDatabase } from '../../src/db/kv-db.js';

/**
 * The `DB` interface of `@ethereumjs/util` as `@ethereumjs/mpt` takes it (`MPTOpts['db']`).
 * Derived from MPTOpts so that this file needs no import of @ethereumjs/util, which is only
 * a transitive dependency here.
 */
export type MptDb = NonNullable<MPTOpts['db']>;
type EncodingOpts = NonNullable<Parameters<MptDb['get']>[1]>;
type BatchOp = Parameters<MptDb['batch']>[0][number];
type StoredValue = string | Uint8Array;

const VIEW = { keyEncoding: 'view', valueEncoding: 'view' } as const;

/**
 * mpt's CheckpointDB hands every key over as unprefixed hex (`bytesToUnprefixedHex` of the
 * node hash, or of the root key). We store the bytes, as Go's trie databases do, so the
 * on-disk keys are 32 bytes and not 64 characters.
 */
function keyBytes(key: string): Uint8Array {
  const b = Buffer.from(key, 'hex');
  if (b.length * 2 !== key.length) {
    throw new Error(`mpt-level-db: key ${JSON.stringify(key)} is not unprefixed hex`);
  }
  return b;
}

/**
 * Values come as Uint8Array with valueEncoding 'view' (what the benchmark uses) or as
 * unprefixed hex with mpt's default 'string'; either way the bytes are stored.
 */
function valueBytes(value: StoredValue): Uint8Array {
  return typeof value === 'string' ? keyBytes(value) : value;
}

function decodeValue(raw: Uint8Array, opts: EncodingOpts | undefined): StoredValue {
  const enc = opts?.valueEncoding ?? 'string';
  if (enc === 'view') return raw;
  if (enc === 'string') return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('hex');
  throw new Error(`mpt-level-db: value encoding ${enc} is not supported`);
}

/**
 * An `@ethereumjs/mpt` database on an abstract-level (classic-level) database opened by
 * `openDb`, so that the trie writes real LevelDB files like the IAVL tree does.
 */
export class MptLevelDb implements MptDb {
  readonly db: LevelDatabase;

  constructor(db: LevelDatabase) {
    this.db = db;
  }

  async get(key: string, opts?: EncodingOpts): Promise<StoredValue | undefined> {
    const raw: Uint8Array | undefined = await this.db.get(keyBytes(key), VIEW);
    return raw === undefined ? undefined : decodeValue(raw, opts);
  }

  async put(key: string, value: StoredValue): Promise<void> {
    await this.db.put(keyBytes(key), valueBytes(value), VIEW);
  }

  async del(key: string): Promise<void> {
    await this.db.del(keyBytes(key), VIEW);
  }

  async batch(ops: BatchOp[]): Promise<void> {
    if (ops.length === 0) return;
    await this.db.batch(
      ops.map((op) =>
        op.type === 'put'
          ? { type: 'put' as const, key: keyBytes(op.key), value: valueBytes(op.value as StoredValue) }
          : { type: 'del' as const, key: keyBytes(op.key) },
      ),
      VIEW,
    );
  }

  shallowCopy(): MptDb {
    return new MptLevelDb(this.db);
  }

  async open(): Promise<void> {
    if (this.db.status !== 'open') await this.db.open();
  }
}
