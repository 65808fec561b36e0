import type { WriteBatch } from '../db/kv-db.js';
import { ByteReader } from '../encoding/byte-reader.js';
import { ByteWriter, readU64be, u64be } from '../encoding/byte-writer.js';
import { compareBytes, concatBytes, equalBytes, toHex } from '../encoding/bytes.js';
import { StoreMigrateError } from '../errors.js';
import type { MutableTree, SaveResult } from './mutable-tree.js';
import { Node } from './node.js';
import {
  encodeLegacyNode,
  encodeNodeKeyNode,
  MAX_HEIGHT,
  NODE_KEY_SIZE,
  nodeKeyBytes,
} from './node-codec.js';
import { EMPTY_HASH, innerHash, leafHash } from './node-hash.js';
import type { ExportNode } from './tree-walk.js';

export interface ImporterOptions {
  /** Flush the write batch at about this many bytes. */
  batchBytes?: number;
  /**
   * A full database key: with each flush the importer's state is written there in the same
   * batch as the nodes, so `Importer.resume` can continue after a crash.
   */
  checkpointKey?: Uint8Array;
  /**
   * Node-key layout only: a node that arrives with its source node key (`ExportNode.ref`)
   * is written under that key instead of a new one, so the copy is the source node for node
   * and its later versions can be copied from the source as they are. A resumed import must
   * use the same setting as the run it continues: the two schemes' keys could collide.
   */
  keepNodeKeys?: boolean;
}

/** A subtree waiting for its parent. Its node is already written. */
interface Pending {
  ref: Uint8Array;
  hash: Uint8Array;
  height: number;
  size: number;
  /** Smallest key under it: an inner node's key must equal its right subtree's. */
  min: Uint8Array;
}

/** Where an import stands: enough to continue it after a crash. */
export interface ImporterState {
  /** Nodes consumed so far; a resumed import skips this many nodes of the stream. */
  count: number;
  lastLeaf: Uint8Array | undefined;
  stack: Pending[];
}

const EMPTY = new Uint8Array(0);
const N = 0x6e;
const R = 0x72;
const S = 0x73;

/**
 * Rebuilds a tree from a post-order export (cosmos/iavl `docs/tree/export_import.md`) with a
 * stack of pending subtrees. It validates as it goes (heights, versions, key order, inner
 * keys), so an out-of-order or truncated stream fails with a typed error instead of building
 * a different tree. Nodes are written as they arrive, in bounded batches; the version exists
 * only after commit().
 *
 * Node keys in the node-key layout: (node version, 2 + arrival index), which is unique
 * without per-version counters, so the state to resume is small; the root moves to nonce 1
 * at commit. Hashes do not depend on nonces. With `keepNodeKeys`, a node that comes with its
 * source key keeps it instead. Those keys cannot meet the new ones: a source tree's node-key
 * nodes are all of versions after its move to iavl v1, and its legacy nodes (which get new
 * keys) of versions before it.
 */
export class Importer {
  readonly #tree: MutableTree;
  readonly #version: number;
  readonly #batchBytes: number;
  readonly #checkpointKey: Uint8Array | undefined;
  readonly #keepNodeKeys: boolean;
  #batch: WriteBatch;
  /** The batch LevelDB is writing while the next one fills; at most one at a time, in order. */
  #writing: Promise<void> | undefined;
  #stack: Pending[] = [];
  #lastLeaf: Uint8Array | undefined;
  #count = 0;
  #done = false;

  constructor(tree: MutableTree, version: number, options: ImporterOptions = {}) {
    if (!Number.isSafeInteger(version) || version < 1) {
      throw new StoreMigrateError('ERR_VERSION_NOT_FOUND', `cannot import at version ${version}`);
    }
    if (tree.version !== 0 || tree.root !== null) {
      throw new StoreMigrateError(
        'ERR_VERSION_EXISTS',
        `import needs an empty tree; this one is at version ${tree.version}`,
      );
    }
    this.#tree = tree;
    this.#version = version;
    this.#batchBytes = options.batchBytes ?? 4 * 1024 * 1024;
    this.#checkpointKey = options.checkpointKey;
    this.#keepNodeKeys = options.keepNodeKeys ?? false;
    this.#batch = tree.kv.batch();
  }

  /** Continues an import from a saved state; feed it the stream without its first `state.count` nodes. */
  static resume(
    tree: MutableTree,
    version: number,
    state: ImporterState,
    options: ImporterOptions = {},
  ): Importer {
    const imp = new Importer(tree, version, options);
    imp.#count = state.count;
    imp.#lastLeaf = state.lastLeaf;
    imp.#stack = state.stack;
    return imp;
  }

  /** Nodes added so far (including those before a resume). */
  get count(): number {
    return this.#count;
  }

  get needsFlush(): boolean {
    return this.#batch.byteLength >= this.#batchBytes;
  }

  get state(): ImporterState {
    return { count: this.#count, lastLeaf: this.#lastLeaf, stack: [...this.#stack] };
  }

  #fail(code: 'ERR_IMPORT_ORDER' | 'ERR_CORRUPT_NODE' | 'ERR_INVALID_HEIGHT', msg: string): never {
    throw new StoreMigrateError(code, `import node ${this.#count}: ${msg}`, {
      details: { index: this.#count },
    });
  }

  /** Adds the next node of the post-order stream. Synchronous; call flush() when needsFlush. */
  add(item: ExportNode): void {
    if (this.#done) throw new StoreMigrateError('ERR_IMPORT_ORDER', 'importer already committed');
    const { height, version } = item;
    if (!Number.isInteger(height) || height < 0 || height > MAX_HEIGHT) {
      this.#fail('ERR_INVALID_HEIGHT', `height ${height} outside 0..127`);
    }
    if (!Number.isSafeInteger(version) || version < 1 || version > this.#version) {
      this.#fail('ERR_CORRUPT_NODE', `version ${version} outside 1..${this.#version}`);
    }
    let node: Node;
    let min: Uint8Array;
    if (height === 0) {
      if (item.key.length === 0) this.#fail('ERR_CORRUPT_NODE', 'leaf with an empty key');
      if (this.#lastLeaf !== undefined && compareBytes(item.key, this.#lastLeaf) <= 0) {
        this.#fail('ERR_IMPORT_ORDER', `leaf ${toHex(item.key)} does not follow ${toHex(this.#lastLeaf)}`);
      }
      node = Node.leaf(item.key, item.value ?? EMPTY, version);
      node.hash = leafHash(node.key, node.value!, version);
      min = item.key;
      this.#lastLeaf = item.key;
    } else {
      const n = this.#stack.length;
      const l = this.#stack[n - 2];
      const r = this.#stack[n - 1];
      if (n < 2 || l.height >= height || r.height >= height) {
        this.#fail('ERR_IMPORT_ORDER', `inner node of height ${height} without two lower subtrees before it`);
      }
      if (Math.max(l.height, r.height) + 1 !== height) {
        this.#fail(
          'ERR_CORRUPT_NODE',
          `inner node of height ${height} over children of heights ${l.height} and ${r.height}`,
        );
      }
      if (compareBytes(item.key, r.min) !== 0) {
        this.#fail(
          'ERR_IMPORT_ORDER',
          `inner key ${toHex(item.key)} is not the smallest key of its right subtree`,
        );
      }
      if (item.value !== undefined && item.value.length > 0)
        this.#fail('ERR_CORRUPT_NODE', 'inner node with a value');
      node = new Node(item.key, undefined, version, height, l.size + r.size);
      node.leftRef = l.ref;
      node.rightRef = r.ref;
      node.hash = innerHash(height, node.size, version, l.hash, r.hash);
      min = l.min;
      this.#stack.length = n - 2;
    }
    node.ref = this.#refOf(item, node);
    this.#write(node);
    this.#stack.push({ ref: node.ref, hash: node.hash, height, size: node.size, min });
    this.#count++;
  }

  #refOf(item: ExportNode, node: Node): Uint8Array {
    if (this.#tree.layout === 'legacy') return node.hash!;
    const kept = this.#keepNodeKeys ? item.ref : undefined;
    if (kept === undefined || kept.length !== NODE_KEY_SIZE)
      return nodeKeyBytes(item.version, this.#count + 2);
    // A node key names the version that created the node; any other is not this node's.
    if (readU64be(kept, 0) !== item.version) {
      this.#fail('ERR_CORRUPT_NODE', `node key ${toHex(kept)} is not of version ${item.version}`);
    }
    return kept;
  }

  #write(n: Node): void {
    const kv = this.#tree.kv;
    if (this.#tree.layout === 'legacy') this.#batch.put(kv.batchKey(N, n.ref!), encodeLegacyNode(n));
    else this.#batch.put(kv.batchKey(S, n.ref!), encodeNodeKeyNode(n));
  }

  /**
   * Hands the pending batch (with the checkpoint, when one is configured) to the database.
   * It is written on LevelDB's thread while the next batch fills: flush() first waits for the
   * previous write, so batches land in order and a checkpoint never precedes its nodes, and
   * a failed write is thrown by the next flush(), drain() or commit().
   */
  async flush(extra?: (batch: WriteBatch) => void): Promise<void> {
    const b = this.#batch;
    this.#batch = this.#tree.kv.batch();
    if (this.#checkpointKey) b.put(this.#checkpointKey, encodeImporterState(this.state));
    extra?.(b);
    await this.drain();
    const writing = b.write();
    // Observed at the next drain(); until then a failure must not count as unhandled.
    writing.catch(() => {});
    this.#writing = writing;
  }

  /** Waits until every flushed batch is written; throws a write's error. */
  async drain(): Promise<void> {
    const writing = this.#writing;
    this.#writing = undefined;
    await writing;
  }

  /** Adds every node of a stream, flushing as it goes; every batch is written when it returns. */
  async addAll(nodes: Iterable<ExportNode> | AsyncIterable<ExportNode>): Promise<void> {
    if (Symbol.iterator in nodes) {
      // A plain loop: for await over a synchronous source would cost a promise per node.
      for (const n of nodes) {
        this.add(n);
        if (this.needsFlush) await this.flush();
      }
    } else {
      for await (const n of nodes) {
        this.add(n);
        if (this.needsFlush) await this.flush();
      }
    }
    await this.drain();
  }

  /**
   * Writes the root record and loads the imported version into the tree. `extra` may add
   * writes to the same final batch (e.g. to drop the checkpoint).
   */
  async commit(extra?: (batch: WriteBatch) => void): Promise<SaveResult> {
    if (this.#done) throw new StoreMigrateError('ERR_IMPORT_ORDER', 'importer already committed');
    if (this.#stack.length > 1) {
      throw new StoreMigrateError(
        'ERR_IMPORT_INCOMPLETE',
        `import stream ended with ${this.#stack.length} unjoined subtrees; it is truncated`,
      );
    }
    const tree = this.#tree;
    const kv = tree.kv;
    if (tree.ndb.hasVersion(this.#version)) {
      throw new StoreMigrateError(
        'ERR_VERSION_EXISTS',
        `version ${this.#version} already exists in the target tree`,
      );
    }
    await this.flush();
    await this.drain();
    const root = this.#stack[0];
    const batch = kv.batch();
    if (tree.layout === 'legacy') {
      batch.put(kv.key(concatBytes(new Uint8Array([R]), u64be(this.#version))), root ? root.hash : EMPTY);
    } else {
      const rootRecord = kv.key(concatBytes(new Uint8Array([S]), nodeKeyBytes(this.#version, 1)));
      if (root) {
        // The root takes nonce 1 of its own version, as iavl expects of a root.
        const body = kv.getSync(concatBytes(new Uint8Array([S]), root.ref))!;
        const rootVersion = new ByteReader(root.ref).u64be();
        const rootRef = nodeKeyBytes(rootVersion, 1);
        if (!equalBytes(root.ref, rootRef)) {
          batch.del(kv.key(concatBytes(new Uint8Array([S]), root.ref)));
          batch.put(kv.key(concatBytes(new Uint8Array([S]), rootRef)), body);
        }
        if (rootVersion < this.#version) batch.put(rootRecord, concatBytes(new Uint8Array([S]), rootRef));
      } else {
        batch.put(rootRecord, EMPTY);
      }
    }
    if (this.#checkpointKey) batch.del(this.#checkpointKey);
    extra?.(batch);
    await batch.write();
    this.#done = true;
    await tree.loadVersion(this.#version);
    return { hash: root ? root.hash : EMPTY_HASH, version: this.#version };
  }
}

export function encodeImporterState(s: ImporterState): Uint8Array {
  const w = new ByteWriter(64 + s.stack.length * 100);
  w.uvarint(s.count);
  w.uvarint(s.lastLeaf === undefined ? 0 : 1);
  if (s.lastLeaf !== undefined) w.bytes(s.lastLeaf);
  w.uvarint(s.stack.length);
  for (const p of s.stack) w.bytes(p.ref).bytes(p.hash).uvarint(p.height).uvarint(p.size).bytes(p.min);
  return w.finish();
}

export function decodeImporterState(buf: Uint8Array): ImporterState {
  try {
    const r = new ByteReader(buf);
    const count = r.uvarint();
    const lastLeaf = r.uvarint() === 1 ? r.bytes().slice() : undefined;
    const n = r.uvarint();
    const stack: Pending[] = [];
    for (let i = 0; i < n; i++) {
      stack.push({
        ref: r.bytes().slice(),
        hash: r.bytes().slice(),
        height: r.uvarint(),
        size: r.uvarint(),
        min: r.bytes().slice(),
      });
    }
    r.end('importer state');
    return { count, lastLeaf, stack };
  } catch (err) {
    // Whatever the reader's own code (truncated, trailing bytes...), a bad checkpoint is corruption.
    const why = err instanceof Error ? `: ${err.message}` : '';
    throw new StoreMigrateError('ERR_CORRUPT_CHECKPOINT', `import checkpoint does not decode${why}`, {
      cause: err,
    });
  }
}
