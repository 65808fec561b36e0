import { StoreMigrateError } from '../errors.js';
import { ByteReader } from './byte-reader.js';
import { ByteWriter } from './byte-writer.js';
import { fromUtf8, utf8 } from './bytes.js';

/** One key change. `remove: true` deletes the key; otherwise `value` is set (it may be empty). */
export interface KVPair {
  key: Uint8Array;
  value?: Uint8Array;
  remove?: boolean;
}

/** The changes of one store within one version. */
export interface StoreChanges {
  store: string;
  pairs: KVPair[];
}

/** Mirrors cosmos store/v2 `corestore.Changeset`. */
export interface Changeset {
  changes: StoreChanges[];
}

export interface VersionedChangeset {
  version: number;
  changeset: Changeset;
}

/**
 * Encodes a changeset as cosmos store/v2 `internal/encoding` does:
 * uvarint(#stores), then per store bytes(storeKey) uvarint(#pairs), then per pair
 * bytes(key) uvarint(remove) [bytes(value)].
 */
export function encodeChangeset(cs: Changeset): Uint8Array {
  const w = new ByteWriter(256);
  w.uvarint(cs.changes.length);
  for (const sc of cs.changes) {
    w.bytes(utf8(sc.store));
    w.uvarint(sc.pairs.length);
    for (const p of sc.pairs) {
      w.bytes(p.key);
      if (p.remove) {
        w.uvarint(1);
      } else {
        w.uvarint(0);
        w.bytes(p.value ?? new Uint8Array(0));
      }
    }
  }
  return w.finish();
}

/** Decodes the cosmos changeset codec. Any malformation raises a StoreMigrateError; trailing bytes too. */
export function decodeChangeset(buf: Uint8Array): Changeset {
  const r = new ByteReader(buf);
  const nStores = r.uvarint();
  // Each store needs at least 2 bytes; a count beyond that is a lie, not an allocation request.
  if (nStores > r.remaining) {
    throw new StoreMigrateError(
      'ERR_TRUNCATED',
      `changeset claims ${nStores} stores in ${r.remaining} bytes`,
    );
  }
  const changes: StoreChanges[] = [];
  for (let i = 0; i < nStores; i++) {
    const nameBytes = r.bytes();
    let store: string;
    try {
      store = fromUtf8(nameBytes);
    } catch (err) {
      throw new StoreMigrateError('ERR_INVALID_CHANGESET', `store key ${i} is not valid UTF-8`, {
        cause: err,
      });
    }
    const nPairs = r.uvarint();
    if (nPairs > r.remaining) {
      throw new StoreMigrateError(
        'ERR_TRUNCATED',
        `store ${store} claims ${nPairs} pairs in ${r.remaining} bytes`,
      );
    }
    const pairs: KVPair[] = [];
    for (let j = 0; j < nPairs; j++) {
      const key = r.bytes().slice();
      const flagAt = r.offset;
      const flag = r.uvarint();
      if (flag === 1) {
        pairs.push({ key, remove: true });
      } else if (flag === 0) {
        pairs.push({ key, value: r.bytes().slice() });
      } else {
        throw new StoreMigrateError('ERR_INVALID_REMOVE_FLAG', `remove flag ${flag} at offset ${flagAt}`, {
          details: { offset: flagAt, flag },
        });
      }
    }
    changes.push({ store, pairs });
  }
  r.end('changeset');
  return { changes };
}
