import { ByteReader } from '../encoding/byte-reader.js';
import { ByteWriter, readU32be, readU64be, writeU32be, writeU64be } from '../encoding/byte-writer.js';
import { equalBytes, toHex } from '../encoding/bytes.js';
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
  const w = new ByteWriter(32 + n.key.length + (n.value?.length ?? 2 * HASH_SIZE));
  w.varint(n.height).varint(n.size).varint(n.version).bytes(n.key);
  if (n.height === 0) w.bytes(n.value!);
  else w.bytes(n.leftRef!).bytes(n.rightRef!);
  return w.finish();
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

function writeChildRef(w: ByteWriter, ref: Uint8Array): void {
  if (ref.length === HASH_SIZE) w.bytes(ref);
  else w.varint(readU64be(ref, 0)).varint(readU32be(ref, 8));
}

/**
 * Node-key layout value: varint(height) varint(size) bytes(key), then bytes(value) for a leaf,
 * or bytes(hash) varint(mode) left right for an inner node (each child is varint(version)
 * varint(nonce), or bytes(hash) when its mode bit marks it legacy).
 */
export function encodeNodeKeyNode(n: Node): Uint8Array {
  const w = new ByteWriter(48 + n.key.length + (n.value?.length ?? HASH_SIZE + 40));
  w.varint(n.height).varint(n.size).bytes(n.key);
  if (n.height === 0) {
    w.bytes(n.value!);
  } else {
    const l = n.leftRef!;
    const r = n.rightRef!;
    const mode =
      (l.length === HASH_SIZE ? MODE_LEGACY_LEFT : 0) | (r.length === HASH_SIZE ? MODE_LEGACY_RIGHT : 0);
    w.bytes(n.hash!).varint(mode);
    writeChildRef(w, l);
    writeChildRef(w, r);
  }
  return w.finish();
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
  return nodeKeyBytes(version, nonce);
}

/** Decodes a node stored under `s` + nodeKey. A leaf's version comes from its key; its hash is recomputed. */
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
      node = new Node(key, r.bytes(), version, 0, 1);
      node.hash = leafHash(node.key, node.value!, version);
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
