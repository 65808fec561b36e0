import type { WriteBatch } from '../db/kv-db.js';
import { u64be } from '../encoding/byte-writer.js';
import { compareBytes, concatBytes, toHex } from '../encoding/bytes.js';
import { StoreMigrateError } from '../errors.js';
import type { MutableTree, SaveResult } from './mutable-tree.js';
import { Node } from './node.js';
import { encodeLegacyNode, encodeNodeKeyNode, MAX_HEIGHT, nodeKeyBytes } from './node-codec.js';
import { EMPTY_HASH, innerHash, leafHash } from './node-hash.js';
import type { ExportNode } from './tree-walk.js';

export interface ImporterOptions {
  /** Flush the write batch at about this many bytes. */
  batchBytes?: number;
}

interface Pending {
  node: Node;
  /** Smallest and largest key under the node, to check order as nodes arrive. */
  min: Uint8Array;
  max: Uint8Array;
}

const EMPTY = new Uint8Array(0);

/**
 * Rebuilds a tree from a post-order export (cosmos/iavl `docs/tree/export_import.md`) with a
 * stack of pending subtrees. It validates as it goes: heights, versions, key order and inner
 * keys, so an out-of-order or truncated stream fails with a typed error instead of building a
 * different tree. Nodes are written in bounded batches; the version exists only after commit().
 */
export class Importer {
  readonly #tree: MutableTree;
  readonly #version: number;
  readonly #batchBytes: number;
  #batch: WriteBatch;
  #stack: Pending[] = [];
  #nonces = new Map<number, number>();
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
    this.#batch = tree.kv.batch();
  }

  /** Nodes added so far. */
  get count(): number {
    return this.#count;
  }

  get needsFlush(): boolean {
    return this.#batch.byteLength >= this.#batchBytes;
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
    let pending: Pending;
    if (height === 0) {
      if (item.key.length === 0) this.#fail('ERR_CORRUPT_NODE', 'leaf with an empty key');
      if (this.#lastLeaf !== undefined && compareBytes(item.key, this.#lastLeaf) <= 0) {
        this.#fail('ERR_IMPORT_ORDER', `leaf ${toHex(item.key)} does not follow ${toHex(this.#lastLeaf)}`);
      }
      this.#lastLeaf = item.key;
      const node = Node.leaf(item.key, item.value ?? EMPTY, version);
      node.hash = leafHash(node.key, node.value!, version);
      pending = { node, min: item.key, max: item.key };
    } else {
      const n = this.#stack.length;
      const l = this.#stack[n - 2];
      const r = this.#stack[n - 1];
      if (n < 2 || l.node.height >= height || r.node.height >= height) {
        this.#fail('ERR_IMPORT_ORDER', `inner node of height ${height} without two lower subtrees before it`);
      }
      if (Math.max(l.node.height, r.node.height) + 1 !== height) {
        this.#fail(
          'ERR_CORRUPT_NODE',
          `inner node of height ${height} over children of heights ${l.node.height} and ${r.node.height}`,
        );
      }
      if (compareBytes(item.key, r.min) !== 0) {
        this.#fail(
          'ERR_IMPORT_ORDER',
          `inner key ${toHex(item.key)} is not the smallest key of its right subtree`,
        );
      }
      if (item.value !== undefined && item.value.length > 0) {
        this.#fail('ERR_CORRUPT_NODE', 'inner node with a value');
      }
      const node = new Node(item.key, undefined, version, height, l.node.size + r.node.size);
      this.#write(l.node);
      this.#write(r.node);
      node.leftRef = l.node.ref;
      node.rightRef = r.node.ref;
      node.hash = innerHash(height, node.size, version, l.node.hash!, r.node.hash!);
      this.#stack.length = n - 2;
      pending = { node, min: l.min, max: r.max };
    }
    if (this.#tree.layout === 'legacy') {
      pending.node.ref = pending.node.hash;
    } else {
      // Per-version nonces from 2 in arrival order; the root takes nonce 1 at commit.
      const nonce = (this.#nonces.get(version) ?? 0) + 1;
      this.#nonces.set(version, nonce);
      pending.node.ref = nodeKeyBytes(version, nonce + 1);
    }
    this.#stack.push(pending);
    this.#count++;
  }

  #write(n: Node): void {
    const kv = this.#tree.kv;
    if (this.#tree.layout === 'legacy') {
      this.#batch.put(kv.key(concatBytes(new Uint8Array([0x6e]), n.ref!)), encodeLegacyNode(n));
    } else {
      this.#batch.put(kv.key(concatBytes(new Uint8Array([0x73]), n.ref!)), encodeNodeKeyNode(n));
    }
  }

  async flush(): Promise<void> {
    const b = this.#batch;
    this.#batch = this.#tree.kv.batch();
    await b.write();
  }

  /** Adds every node of a stream, flushing as it goes. */
  async addAll(nodes: Iterable<ExportNode> | AsyncIterable<ExportNode>): Promise<void> {
    for await (const n of nodes) {
      this.add(n);
      if (this.needsFlush) await this.flush();
    }
  }

  /** Writes the root record and loads the imported version into the tree. */
  async commit(): Promise<SaveResult> {
    if (this.#done) throw new StoreMigrateError('ERR_IMPORT_ORDER', 'importer already committed');
    if (this.#stack.length > 1) {
      throw new StoreMigrateError(
        'ERR_IMPORT_INCOMPLETE',
        `import stream ended with ${this.#stack.length} unjoined subtrees; it is truncated`,
      );
    }
    const kv = this.#tree.kv;
    if (this.#tree.ndb.hasVersion(this.#version)) {
      throw new StoreMigrateError(
        'ERR_VERSION_EXISTS',
        `version ${this.#version} already exists in the target tree`,
      );
    }
    const root = this.#stack[0]?.node;
    let hash = EMPTY_HASH;
    if (this.#tree.layout === 'legacy') {
      if (root) this.#write(root);
      this.#batch.put(
        kv.key(concatBytes(new Uint8Array([0x72]), u64be(this.#version))),
        root ? root.hash! : EMPTY,
      );
    } else {
      const rootRecord = kv.key(concatBytes(new Uint8Array([0x73]), nodeKeyBytes(this.#version, 1)));
      if (root) {
        root.ref = nodeKeyBytes(root.version, 1);
        this.#write(root);
        if (root.version < this.#version)
          this.#batch.put(rootRecord, concatBytes(new Uint8Array([0x73]), root.ref));
      } else {
        this.#batch.put(rootRecord, EMPTY);
      }
    }
    if (root) hash = root.hash!;
    await this.flush();
    this.#done = true;
    await this.#tree.loadVersion(this.#version);
    return { hash, version: this.#version };
  }
}
