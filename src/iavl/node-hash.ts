import { hash as cryptoHash } from 'node:crypto';
import { putUvarint, zigzag } from '../encoding/varint.js';

/**
 * sha256 of arbitrary bytes, as a plain Uint8Array. The digest comes back as a 'binary' (latin1) string
 * (one char per byte, on the JS heap) and is copied into a 32-byte array: a Buffer digest
 * would allocate an off-heap backing store per call, which costs three times the hashing.
 */
export function sha256(data: Uint8Array, out: Uint8Array = new Uint8Array(32)): Uint8Array {
  const s = cryptoHash('sha256', data, 'binary');
  for (let i = 0; i < 32; i++) out[i] = s.charCodeAt(i);
  return out;
}

export const EMPTY_HASH = sha256(new Uint8Array(0));

// One scratch buffer for hash preimages: hashing is synchronous, so it is never shared.
let scratch = new Uint8Array(256);
// Views of its first n bytes, made once per length: a preimage view per hash was a tenth
// of everything a tree write allocated.
let prefixes: Uint8Array[] = [];

function ensure(n: number): Uint8Array {
  if (scratch.length < n) {
    scratch = new Uint8Array(Math.max(n, scratch.length * 2));
    prefixes = [];
  }
  return scratch;
}

function preimage(n: number): Uint8Array {
  let view = prefixes[n];
  if (view === undefined) {
    view = scratch.subarray(0, n);
    prefixes[n] = view;
  }
  return view;
}

// The value's own hash, copied into the preimage at once.
const valueHash = new Uint8Array(32);

/**
 * The IAVL leaf hash: sha256(varint(0) varint(1) varint(version) bytes(key) bytes(sha256(value))).
 * The same in the legacy and node-key layouts. Written into `out` when given (32 bytes).
 */
export function leafHash(key: Uint8Array, value: Uint8Array, version: number, out?: Uint8Array): Uint8Array {
  return leafHashFromValueHash(key, sha256(value, valueHash), version, out);
}

export function leafHashFromValueHash(
  key: Uint8Array,
  valueHash: Uint8Array,
  version: number,
  out?: Uint8Array,
): Uint8Array {
  const buf = ensure(2 + 10 + 10 + key.length + 1 + 33);
  buf[0] = 0; // zigzag(0)
  buf[1] = 2; // zigzag(1)
  let o = putUvarint(buf, 2, zigzag(version));
  o = putUvarint(buf, o, key.length);
  buf.set(key, o);
  o += key.length;
  buf[o++] = 32;
  buf.set(valueHash, o);
  o += 32;
  return sha256(preimage(o), out);
}

/**
 * The IAVL inner hash: sha256(varint(height) varint(size) varint(version) bytes(left) bytes(right)).
 * Written into `out` when given (32 bytes).
 */
export function innerHash(
  height: number,
  size: number,
  version: number,
  leftHash: Uint8Array,
  rightHash: Uint8Array,
  out?: Uint8Array,
): Uint8Array {
  const buf = ensure(30 + 2 + leftHash.length + rightHash.length + 4);
  let o = putUvarint(buf, 0, zigzag(height));
  o = putUvarint(buf, o, zigzag(size));
  o = putUvarint(buf, o, zigzag(version));
  o = putUvarint(buf, o, leftHash.length);
  buf.set(leftHash, o);
  o += leftHash.length;
  o = putUvarint(buf, o, rightHash.length);
  buf.set(rightHash, o);
  o += rightHash.length;
  return sha256(preimage(o), out);
}
