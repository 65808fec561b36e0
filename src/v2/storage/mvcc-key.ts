/**
 * The byte layout of StateStorage (documented in docs/formats.md, "StateStorage").
 *
 * Data rows:     'd' ‖ term(utf8(store)) ‖ term(key) ‖ u64be(version) → tag ‖ value
 * Metadata rows: 'm' ‖ name (`latest`, `earliest`, `restore`)
 *
 * term(b) escapes every 0x00 byte of b as 0x00 0xff and appends the terminator 0x00 0x01.
 * It is prefix-free and order-preserving: term(a) < term(b) exactly when a < b, and no
 * term(a) is a prefix of another term(b). So data rows sort by (store, key, version).
 */
import { ByteReader } from '../../encoding/byte-reader.js';
import { ByteWriter, readU64be, writeU64be } from '../../encoding/byte-writer.js';
import { fromUtf8 } from '../../encoding/bytes.js';
import { StoreMigrateError } from '../../errors.js';

export const DATA_PREFIX = 0x64; // 'd'
export const META_PREFIX = 0x6d; // 'm'

export const TAG_TOMBSTONE = 0x00;
export const TAG_VALUE = 0x01;

const ESCAPE = 0xff;
const TERMINATOR = 0x01;

/** Metadata row names (after the 'm' prefix). */
export const META_LATEST = Uint8Array.from([0x6c, 0x61, 0x74, 0x65, 0x73, 0x74]); // 'latest'
export const META_EARLIEST = Uint8Array.from([0x65, 0x61, 0x72, 0x6c, 0x69, 0x65, 0x73, 0x74]); // 'earliest'
export const META_RESTORE = Uint8Array.from([0x72, 0x65, 0x73, 0x74, 0x6f, 0x72, 0x65]); // 'restore'

function corrupt(message: string, details?: Record<string, unknown>): StoreMigrateError {
  return new StoreMigrateError('ERR_DB_IO', `corrupt StateStorage row: ${message}`, { details });
}

/** The size of term(b). */
export function termSize(b: Uint8Array): number {
  let n = b.length + 2;
  for (let i = 0; i < b.length; i++) if (b[i] === 0) n++;
  return n;
}

/** Writes term(b) into out at offset; returns the offset after it. */
export function writeTerm(out: Uint8Array, offset: number, b: Uint8Array): number {
  for (let i = 0; i < b.length; i++) {
    const x = b[i];
    out[offset++] = x;
    if (x === 0) out[offset++] = ESCAPE;
  }
  out[offset++] = 0;
  out[offset++] = TERMINATOR;
  return offset;
}

/** term(b) as a new array. */
export function term(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(termSize(b));
  writeTerm(out, 0, b);
  return out;
}

/**
 * Reads one term(...) starting at offset. Returns the decoded bytes (a new array) and the
 * offset just past the terminator.
 */
export function readTerm(buf: Uint8Array, offset: number): [Uint8Array, number] {
  const out = new Uint8Array(buf.length - offset);
  let n = 0;
  for (let i = offset; i < buf.length; i++) {
    const x = buf[i];
    if (x !== 0) {
      out[n++] = x;
      continue;
    }
    const next = buf[i + 1];
    if (next === ESCAPE) {
      out[n++] = 0;
      i++;
    } else if (next === TERMINATOR) {
      return [out.slice(0, n), i + 2];
    } else {
      throw corrupt(`bad escape 00 ${next === undefined ? 'EOF' : next.toString(16)} at offset ${i}`, {
        offset: i,
      });
    }
  }
  throw corrupt(`unterminated key at offset ${offset}`, { offset });
}

/** The length of the term(...) that starts at offset, without decoding it. */
export function termLength(buf: Uint8Array, offset: number): number {
  for (let i = offset; i < buf.length - 1; i++) {
    if (buf[i] !== 0) continue;
    if (buf[i + 1] === TERMINATOR) return i + 2 - offset;
    if (buf[i + 1] !== ESCAPE) throw corrupt(`bad escape at offset ${i}`, { offset: i });
    i++;
  }
  throw corrupt(`unterminated key at offset ${offset}`, { offset });
}

/** The data-row prefix of a store: term(utf8(store)) (without the 'd' view prefix). */
export function storePrefix(storeName: Uint8Array): Uint8Array {
  return term(storeName);
}

/** storePrefix ‖ term(key) ‖ u64be(version). */
export function dataKey(storePfx: Uint8Array, key: Uint8Array, version: number): Uint8Array {
  const out = new Uint8Array(storePfx.length + termSize(key) + 8);
  out.set(storePfx, 0);
  const off = writeTerm(out, storePfx.length, key);
  writeU64be(out, off, version);
  return out;
}

/** storePrefix ‖ term(key): the common prefix of every version of one key. */
export function keyPrefix(storePfx: Uint8Array, key: Uint8Array): Uint8Array {
  const out = new Uint8Array(storePfx.length + termSize(key));
  out.set(storePfx, 0);
  writeTerm(out, storePfx.length, key);
  return out;
}

export function versionOf(row: Uint8Array): number {
  if (row.length < 8 + 4) throw corrupt(`row of ${row.length} bytes is too short`);
  return readU64be(row, row.length - 8);
}

export interface DecodedDataKey {
  store: string;
  key: Uint8Array;
  version: number;
}

/** The inverse of dataKey, for tools and tests. */
export function decodeDataKey(row: Uint8Array): DecodedDataKey {
  const [storeBytes, afterStore] = readTerm(row, 0);
  const [key, afterKey] = readTerm(row, afterStore);
  if (afterKey + 8 !== row.length) throw corrupt(`expected 8 version bytes at offset ${afterKey}`);
  let store: string;
  try {
    store = fromUtf8(storeBytes);
  } catch (err) {
    throw StoreMigrateError.from(err, 'ERR_DB_IO', 'corrupt StateStorage row: store name is not UTF-8');
  }
  return { store, key, version: readU64be(row, afterKey) };
}

/** A set (TAG_VALUE ‖ value, the value may be empty) or a tombstone (TAG_TOMBSTONE alone). */
export function encodeValue(value: Uint8Array | undefined): Uint8Array {
  if (value === undefined) return Uint8Array.of(TAG_TOMBSTONE);
  const out = new Uint8Array(1 + value.length);
  out[0] = TAG_VALUE;
  out.set(value, 1);
  return out;
}

/** The value of a data row, or undefined for a tombstone. The result is a view into raw. */
export function decodeValue(raw: Uint8Array): Uint8Array | undefined {
  if (raw.length === 1 && raw[0] === TAG_TOMBSTONE) return undefined;
  if (raw.length >= 1 && raw[0] === TAG_VALUE) return raw.subarray(1);
  throw corrupt(`bad value tag ${raw.length === 0 ? 'none' : raw[0]}`);
}

export function isTombstone(raw: Uint8Array): boolean {
  return raw.length === 1 && raw[0] === TAG_TOMBSTONE;
}

/** A restore in progress: everything up to (store, key) inclusive is written, `count` leaves. */
export interface RestoreCheckpoint {
  version: number;
  count: number;
  store: Uint8Array;
  key: Uint8Array;
}

/** u64be(version) ‖ u64be(count) ‖ bytes(utf8(store)) ‖ bytes(key) */
export function encodeCheckpoint(cp: RestoreCheckpoint): Uint8Array {
  return new ByteWriter(32 + cp.store.length + cp.key.length)
    .u64be(cp.version)
    .u64be(cp.count)
    .bytes(cp.store)
    .bytes(cp.key)
    .finish();
}

export function decodeCheckpoint(raw: Uint8Array): RestoreCheckpoint {
  const r = new ByteReader(raw);
  const version = r.u64be();
  const count = r.u64be();
  const store = r.bytes().slice();
  const key = r.bytes().slice();
  r.end('restore checkpoint');
  return { version, count, store, key };
}
