import { arenaAlloc, ByteArena } from '../encoding/byte-arena.js';
import { ByteReader } from '../encoding/byte-reader.js';
import { readU32be, readU64be, writeU32be, writeU64be } from '../encoding/byte-writer.js';
import { equalBytes, toHex } from '../encoding/bytes.js';
import { putUvarint, uvarintSize, zigzag } from '../encoding/varint.js';
import { StoreMigrateError } from '../errors.js';
import { Node } from './node.js';
import { innerHash, leafHash } from './node-hash.js';

/** IAVL caps tree height at int8; anything taller is corrupt. */
export const MAX_HEIGHT = 127;
export const HASH_SIZE = 32;
export const NODE_KEY_SIZE = 12;

const MODE_LEGACY_LEFT = 1;
const MODE_LEGACY_RIGHT = 2;

function corrupt(what: string, ref: Uint8Array, cause?: unknown): StoreMigrateError {
  const reason = cause instanceof Error ? `: ${cause.message}` : '';
  return new StoreMigrateError('ERR_CORRUPT_NODE', `corrupt node ${toHex(ref)}: ${what}${reason}`, {
    cause,
    details: { node: toHex(ref) },
  });
}

function checkShape(ref: Uint8Array, height: number, size: number): void {
  if (height < 0 || height > MAX_HEIGHT) {
    throw new StoreMigrateError(
      'ERR_INVALID_HEIGHT',
      `node ${toHex(ref)} has height ${height}, outside 0..127`,
      {
        details: { node: toHex(ref), height },
      },
    );
  }
  if (height === 0 ? size !== 1 : size < 2) throw corrupt(`height ${height} with size ${size}`, ref);
}

/** Legacy layout value: varint(height) varint(size) varint(version) bytes(key), then bytes(value) or bytes(left) bytes(right). */
export function encodeLegacyNode(n: Node): Uint8Array {
  const h = zigzag(n.height);
  const sz = zigzag(n.size);
  const v = zigzag(n.version);
  const key = n.key;
  let len = uvarintSize(h) + uvarintSize(sz) + uvarintSize(v) + uvarintSize(key.length) + key.length;
  if (n.height === 0) len += uvarintSize(n.value!.length) + n.value!.length;
  else
    len +=
      uvarintSize(n.leftRef!.length) +
      n.leftRef!.length +
      uvarintSize(n.rightRef!.length) +
      n.rightRef!.length;
  // Sized exactly and carved from the arena: these bytes only go into a write batch.
  const out = arenaAlloc(len);
  let o = putUvarint(out, 0, h);
  o = putUvarint(out, o, sz);
  o = putUvarint(out, o, v);
  o = putBytes(out, o, key);
  if (n.height === 0) putBytes(out, o, n.value!);
  else putBytes(out, putBytes(out, o, n.leftRef!), n.rightRef!);
  return out;
}

function putBytes(out: Uint8Array, o: number, b: Uint8Array): number {
  o = putUvarint(out, o, b.length);
  out.set(b, o);
  return o + b.length;
}

/**
 * Decodes a legacy node stored under `n` + hash and checks that its contents hash to that key,
 * so a corrupt or substituted node is never served.
 */
export function decodeLegacyNode(hash: Uint8Array, buf: Uint8Array, verify = true): Node {
  let node: Node;
  try {
    const r = new ByteReader(buf);
    const height = r.varint();
    const size = r.varint();
    const version = r.varint();
    checkShape(hash, height, size);
    const key = r.bytes();
    if (height === 0) {
      node = new Node(key, r.bytes(), version, 0, 1);
    } else {
      node = new Node(key, undefined, version, height, size);
      node.leftRef = r.bytes();
      node.rightRef = r.bytes();
      if (node.leftRef.length !== HASH_SIZE || node.rightRef.length !== HASH_SIZE) {
        throw corrupt('child hash is not 32 bytes', hash);
      }
    }
    r.end('node');
    if (version < 0) throw corrupt(`negative version ${version}`, hash);
  } catch (err) {
    if (
      err instanceof StoreMigrateError &&
      (err.code === 'ERR_CORRUPT_NODE' || err.code === 'ERR_INVALID_HEIGHT')
    ) {
      throw err;
    }
    throw corrupt('cannot decode', hash, err);
  }
  if (!verify) {
    node.hash = hash;
    node.ref = hash;
    return node;
  }
  const computed =
    node.height === 0
      ? leafHash(node.key, node.value!, node.version)
      : innerHash(node.height, node.size, node.version, node.leftRef!, node.rightRef!);
  if (!equalBytes(computed, hash)) {
    throw new StoreMigrateError(
      'ERR_HASH_MISMATCH',
      `node stored under ${toHex(hash)} hashes to ${toHex(computed)}`,
      { details: { node: toHex(hash), computed: toHex(computed) } },
    );
  }
  node.hash = hash;
  node.ref = hash;
  return node;
}

function childRefSize(ref: Uint8Array): number {
  if (ref.length === HASH_SIZE) return 1 + HASH_SIZE;
  return uvarintSize(zigzag(readU64be(ref, 0))) + uvarintSize(zigzag(readU32be(ref, 8)));
}

function putChildRef(out: Uint8Array, o: number, ref: Uint8Array): number {
  if (ref.length === HASH_SIZE) return putBytes(out, o, ref);
  return putUvarint(out, putUvarint(out, o, zigzag(readU64be(ref, 0))), zigzag(readU32be(ref, 8)));
}

/**
 * Node-key layout value: varint(height) varint(size) bytes(key), then bytes(value) for a leaf,
 * or bytes(hash) varint(mode) left right for an inner node (each child is varint(version)
 * varint(nonce), or bytes(hash) when its mode bit marks it legacy).
 */
export function encodeNodeKeyNode(n: Node): Uint8Array {
  const h = zigzag(n.height);
  const sz = zigzag(n.size);
  const key = n.key;
  let len = uvarintSize(h) + uvarintSize(sz) + uvarintSize(key.length) + key.length;
  let mode = 0;
  if (n.height === 0) {
    len += uvarintSize(n.value!.length) + n.value!.length;
  } else {
    const l = n.leftRef!;
    const r = n.rightRef!;
    mode = (l.length === HASH_SIZE ? MODE_LEGACY_LEFT : 0) | (r.length === HASH_SIZE ? MODE_LEGACY_RIGHT : 0);
    len += 1 + n.hash!.length + uvarintSize(zigzag(mode)) + childRefSize(l) + childRefSize(r);
  }
  // Sized exactly and carved from the arena: these bytes only go into a write batch.
  const out = arenaAlloc(len);
  let o = putUvarint(out, 0, h);
  o = putUvarint(out, o, sz);
  o = putBytes(out, o, key);
  if (n.height === 0) {
    putBytes(out, o, n.value!);
  } else {
    o = putBytes(out, o, n.hash!);
    o = putUvarint(out, o, zigzag(mode));
    o = putChildRef(out, o, n.leftRef!);
    putChildRef(out, o, n.rightRef!);
  }
  return out;
}

export function nodeKeyBytes(version: number, nonce: number): Uint8Array {
  const out = new Uint8Array(NODE_KEY_SIZE);
  writeU64be(out, 0, version);
  writeU32be(out, 8, nonce);
  return out;
}

function readChildRef(r: ByteReader, legacy: boolean, ref: Uint8Array): Uint8Array {
  if (legacy) {
    const h = r.bytes();
    if (h.length !== HASH_SIZE) throw corrupt('legacy child hash is not 32 bytes', ref);
    return h;
  }
  const version = r.varint();
  const nonce = r.varint();
  if (version < 0 || nonce < 0 || nonce > 0xffff_ffff)
    throw corrupt(`bad child key (${version}, ${nonce})`, ref);
  return nodeRef(version, nonce);
}

// References held by nodes in memory (children of decoded nodes, nodes just saved), carved
// from shared chunks: a typed array with an ArrayBuffer of its own per reference was a
// seventh of what a commit allocated. Nodes live for a block, so their chunks go with them.
const nodeRefs = new ByteArena(16 * 1024);

/** As nodeKeyBytes, carved from a shared chunk: for a reference a node in memory holds. */
export function nodeRef(version: number, nonce: number): Uint8Array {
  const out = nodeRefs.alloc(NODE_KEY_SIZE);
  writeU64be(out, 0, version);
  writeU32be(out, 8, nonce);
  return out;
}

/** Decodes a node stored under `s` + nodeKey. A leaf's version comes from its key; its hash is computed on demand. */
export function decodeNodeKeyNode(nodeKey: Uint8Array, buf: Uint8Array): Node {
  const version = readU64be(nodeKey, 0);
  let node: Node;
  try {
    const r = new ByteReader(buf);
    const height = r.varint();
    const size = r.varint();
    checkShape(nodeKey, height, size);
    const key = r.bytes();
    if (height === 0) {
      // The layout stores no leaf hash; NodeDb.hashOf computes it when a parent needs it,
      // which a read or an update of this very key never does.
      node = new Node(key, r.bytes(), version, 0, 1);
    } else {
      node = new Node(key, undefined, version, height, size);
      node.hash = r.bytes();
      if (node.hash.length !== HASH_SIZE) throw corrupt('hash is not 32 bytes', nodeKey);
      const mode = r.varint();
      if (mode < 0 || mode > 3) throw corrupt(`mode ${mode}`, nodeKey);
      node.leftRef = readChildRef(r, (mode & MODE_LEGACY_LEFT) !== 0, nodeKey);
      node.rightRef = readChildRef(r, (mode & MODE_LEGACY_RIGHT) !== 0, nodeKey);
    }
    r.end('node');
  } catch (err) {
    if (
      err instanceof StoreMigrateError &&
      (err.code === 'ERR_CORRUPT_NODE' || err.code === 'ERR_INVALID_HEIGHT')
    ) {
      throw err;
    }
    throw corrupt('cannot decode', nodeKey, err);
  }
  node.ref = nodeKey;
  return node;
}
