import type { KvDb, LevelDatabase, WriteBatch } from '../db/kv-db.js';
import { KvDb as KvDbClass } from '../db/kv-db.js';
import { ByteReader } from '../encoding/byte-reader.js';
import { ByteWriter } from '../encoding/byte-writer.js';
import { compareBytes, fromUtf8, toHex, utf8 } from '../encoding/bytes.js';
import type { KVPair } from '../encoding/changeset.js';
import { StoreMigrateError } from '../errors.js';
import { diffTrees } from './diff.js';
import { ImmutableTree } from './immutable-tree.js';
import { LegacyNodeDb } from './legacy-node-db.js';
import { Node } from './node.js';
import { refKey } from './node-cache.js';
import { DEFAULT_CACHE_BYTES, type NodeDb, type TreeLayout } from './node-db.js';
import { EMPTY_HASH } from './node-hash.js';
import { NodeKeyNodeDb } from './node-key-node-db.js';
import { getFromNode, hasInNode } from './tree-walk.js';

export interface MutableTreeOptions {
  /** Key prefix of the tree inside the database (e.g. `s/k:bank/`). Default: none. */
  prefix?: Uint8Array;
  layout: TreeLayout;
  /** Node cache budget in bytes. */
  cacheBytes?: number;
  /**
   * Maintain iavl's fast-node index (`f` keys, latest values). Default: keep it if the
   * tree already has one, never create one.
   */
  fastNodes?: boolean;
}

export interface SaveResult {
  hash: Uint8Array;
  version: number;
}

const FAST_PREFIX = 0x66; // 'f' + key -> varint(version) bytes(value)
const STORAGE_VERSION_KEY = utf8('mstorage_version');
const FAST_STORAGE_VERSION = '1.1.0';

function fastKey(key: Uint8Array): Uint8Array {
  const k = new Uint8Array(1 + key.length);
  k[0] = FAST_PREFIX;
  k.set(key, 1);
  return k;
}

/**
 * A versioned AVL+ tree, hash-compatible with cosmos/iavl. Changes accumulate in memory
 * (new nodes) and are written by `saveVersion()` in one atomic batch. Reads are synchronous.
 */
export class MutableTree {
  readonly kv: KvDb;
  readonly ndb: NodeDb;
  #root: Node | null = null;
  #version = 0;
  #loaded = false;
  /**
   * Persisted nodes replaced in the working version (legacy orphan records). A set of node
   * objects: within one version a persisted node sits at one place and is reached through
   * one object, so identity is enough and no key is built per orphan.
   */
  #orphans = new Set<Node>();
  #fast: boolean | undefined;
  /** Keys changed since the last save, for the fast-node index. */
  #fastChanges = new Map<string, { key: Uint8Array; value: Uint8Array | undefined }>();

  constructor(db: LevelDatabase | KvDb, options: MutableTreeOptions) {
    const base = db instanceof KvDbClass ? db : new KvDbClass(db);
    this.kv = options.prefix ? base.sub(options.prefix) : base;
    const cache = options.cacheBytes ?? DEFAULT_CACHE_BYTES;
    this.ndb =
      options.layout === 'legacy' ? new LegacyNodeDb(this.kv, cache) : new NodeKeyNodeDb(this.kv, cache);
    this.#fast = options.fastNodes;
  }

  get layout(): TreeLayout {
    return this.ndb.layout;
  }

  /** The last saved (or loaded) version; 0 before the first save. */
  get version(): number {
    return this.#version;
  }

  get root(): Node | null {
    return this.#root;
  }

  get fastNodesEnabled(): boolean {
    return this.#fast === true;
  }

  /** Loads the latest version, or `version`. An empty database loads as version 0. */
  async loadVersion(version?: number): Promise<number> {
    const versions = await this.ndb.availableVersions();
    const target = version ?? versions.at(-1) ?? 0;
    if (target === 0 && versions.length === 0 && version === undefined) {
      this.#root = null;
    } else if (!versions.includes(target)) {
      throw new StoreMigrateError(
        versions.length > 0 && target < versions[0] ? 'ERR_VERSION_PRUNED' : 'ERR_VERSION_NOT_FOUND',
        `version ${target} does not exist (available: ${describeVersions(versions)})`,
        { details: { version: target } },
      );
    } else {
      this.#root = this.ndb.getRoot(target);
    }
    this.#moveTo(target);
    if (this.#fast === undefined) {
      const sv = await this.kv.get(STORAGE_VERSION_KEY);
      this.#fast = sv !== undefined && fromUtf8(sv) >= FAST_STORAGE_VERSION;
    }
    this.#loaded = true;
    return target;
  }

  /**
   * Moves a loaded tree to `version`, which was just saved into its database another way
   * (StateCommitment.commitCopied): as loadVersion, without listing the versions first.
   * A version with no root record is ERR_VERSION_NOT_FOUND.
   * @example
   * tree.moveToSaved(101);
   */
  moveToSaved(version: number): void {
    this.#ensureLoaded();
    this.#root = this.ndb.getRoot(version);
    this.#moveTo(version);
  }

  #moveTo(version: number): void {
    this.#version = version;
    this.ndb.endBlock();
    this.#orphans.clear();
    this.#fastChanges.clear();
  }

  async availableVersions(): Promise<number[]> {
    return this.ndb.availableVersions();
  }

  #ensureLoaded(): void {
    if (!this.#loaded) {
      throw new StoreMigrateError('ERR_NOT_LOADED', 'call loadVersion() before using the tree');
    }
  }

  get(key: Uint8Array): Uint8Array | undefined {
    this.#ensureLoaded();
    return getFromNode(this.ndb, this.#root, key);
  }

  has(key: Uint8Array): boolean {
    this.#ensureLoaded();
    return hasInNode(this.ndb, this.#root, key);
  }

  /**
   * Reads ahead the persisted nodes that setting or removing `keys` will visit: the path to
   * each key and the siblings along it (rebalancing reads them), one `getMany` per level on
   * LevelDB's thread pool into the node cache. The synchronous set() and remove() that follow
   * then find them there instead of blocking this thread on one read per node.
   * @example
   * await tree.prefetch(changes.map((c) => c.key)); // then tree.set(...) / tree.remove(...)
   */
  async prefetch(keys: Uint8Array[]): Promise<void> {
    this.#ensureLoaded();
    if (this.#root === null || keys.length === 0) return;
    const sorted = [...keys].sort(compareBytes);
    // A level is parallel arrays of nodes and the range of `sorted` below each: ranges, not
    // slices, and no object per node, since a read-ahead visits every node a block touches.
    let level = new PrefetchLevel();
    level.add(this.#root, 0, sorted.length);
    while (level.nodes.length > 0) {
      const reads = new PrefetchLevel<Uint8Array>();
      const next = new PrefetchLevel();
      for (let i = 0; i < level.nodes.length; i++) {
        const node = level.nodes[i];
        if (node.height === 0) continue;
        const lo = level.los[i];
        const hi = level.his[i];
        // keys are sorted: those below node.key go left, the rest right.
        let split = lo;
        while (split < hi && compareBytes(sorted[split], node.key) < 0) split++;
        for (let side = 0; side < 2; side++) {
          const child = side === 0 ? node.left : node.right;
          const from = side === 0 ? lo : split;
          const to = side === 0 ? split : hi;
          if (child !== undefined) {
            if (to > from) next.add(child, from, to);
          } else {
            const ref = side === 0 ? node.leftRef : node.rightRef;
            // A sibling with no keys below it is read (rebalancing needs it), not descended.
            if (ref !== undefined) reads.add(ref, from, to);
          }
        }
      }
      if (reads.nodes.length > 0) {
        const nodes = await this.ndb.loadMany(reads.nodes, true);
        for (let i = 0; i < nodes.length; i++) {
          if (reads.his[i] > reads.los[i]) next.add(nodes[i], reads.los[i], reads.his[i]);
        }
      }
      level = next;
    }
  }

  /** Sets a key; returns true when it replaced an existing value. */
  set(key: Uint8Array, value: Uint8Array): boolean {
    this.#ensureLoaded();
    if (key.length === 0) throw new StoreMigrateError('ERR_EMPTY_KEY', 'keys must not be empty');
    if (value === undefined || value === null) {
      throw new StoreMigrateError('ERR_INVALID_CHANGESET', `value for key ${toHex(key)} is missing`);
    }
    const v = this.#version + 1;
    if (this.#fast) this.#fastChanges.set(refKey(key), { key, value });
    if (this.#root === null) {
      this.#root = Node.leaf(key, value, v);
      return false;
    }
    this.#updated = false;
    this.#root = this.#set(this.#root, key, value, v);
    return this.#updated;
  }

  /** Removes a key; returns its old value, or undefined when it was absent. */
  remove(key: Uint8Array): Uint8Array | undefined {
    this.#ensureLoaded();
    if (this.#root === null) return undefined;
    const r = this.#remove(this.#root, key, this.#version + 1);
    if (r === undefined) return undefined;
    this.#root = r.node;
    if (this.#fast) this.#fastChanges.set(refKey(key), { key, value: undefined });
    return r.value;
  }

  /** Hash of the working tree (with unsaved changes). A copy: it may be kept for good. */
  workingHash(): Uint8Array {
    return this.#root === null ? EMPTY_HASH : this.ndb.hashOf(this.#root).slice();
  }

  /** Writes the working tree as version `version + 1`, atomically. */
  async saveVersion(): Promise<SaveResult> {
    const batch = this.kv.batch();
    const result = this.stageVersion(batch);
    try {
      await batch.write();
    } catch (err) {
      this.abandonStaged();
      throw err;
    }
    return result;
  }

  /**
   * Adds the writes of version `version + 1` to `batch` (so several trees can commit in one
   * atomic batch) and moves the tree to that version. If the batch is then not written, call
   * abandonStaged(): the tree must be loaded again before further use.
   */
  stageVersion(batch: WriteBatch): SaveResult {
    this.#ensureLoaded();
    const version = this.#version + 1;
    const hash = this.workingHash();
    if (this.ndb.hasVersion(version)) {
      const existing = this.ndb.getRoot(version);
      const existingHash = existing === null ? EMPTY_HASH : this.ndb.hashOf(existing);
      if (compareBytes(existingHash, hash) !== 0) {
        throw new StoreMigrateError(
          'ERR_VERSION_EXISTS',
          `version ${version} was already saved with hash ${toHex(existingHash)}, not ${toHex(hash)}`,
          { details: { version } },
        );
      }
      // Saving the same state again is a no-op, as in iavl.
      this.#root = existing;
    } else {
      this.ndb.saveVersion(version, this.#root, this.#orphans, this.#version, batch);
      if (this.#fast) this.#writeFastNodes(version, batch);
    }
    this.#version = version;
    this.#orphans.clear();
    this.#fastChanges.clear();
    this.ndb.endBlock();
    return { hash, version };
  }

  /** After a staged batch failed to write: forget in-memory state until the next loadVersion(). */
  abandonStaged(): void {
    this.#loaded = false;
    this.#root = null;
    this.#orphans.clear();
    this.#fastChanges.clear();
    this.ndb.clearCache();
  }

  /** Drops unsaved changes, returning to the last saved version. */
  async rollback(): Promise<void> {
    await this.loadVersion(this.#version === 0 ? undefined : this.#version);
  }

  #writeFastNodes(version: number, batch: WriteBatch): void {
    const changes = [...this.#fastChanges.values()].sort((a, b) => compareBytes(a.key, b.key));
    for (const c of changes) {
      if (c.value === undefined) batch.del(this.kv.key(fastKey(c.key)));
      else batch.put(this.kv.key(fastKey(c.key)), new ByteWriter().varint(version).bytes(c.value).finish());
    }
    batch.put(this.kv.key(STORAGE_VERSION_KEY), utf8(`${FAST_STORAGE_VERSION}-${version}`));
  }

  /**
   * Reads a key from the fast-node index when it is present and current for the latest
   * saved version; undefined means "not answered here" as well as "absent", so callers fall
   * back to the tree.
   */
  async getFast(key: Uint8Array): Promise<{ value: Uint8Array | undefined } | undefined> {
    if (!this.#fast) return undefined;
    const sv = await this.kv.get(STORAGE_VERSION_KEY);
    if (sv === undefined || fromUtf8(sv) !== `${FAST_STORAGE_VERSION}-${this.#version}`) return undefined;
    const raw = await this.kv.get(fastKey(key));
    if (raw === undefined) return { value: undefined };
    const r = new ByteReader(raw);
    r.varint();
    const value = r.bytes();
    r.end('fast node');
    return { value };
  }

  getImmutable(version: number): ImmutableTree {
    if (!this.ndb.hasVersion(version)) {
      throw new StoreMigrateError('ERR_VERSION_NOT_FOUND', `version ${version} does not exist`, {
        details: { version },
      });
    }
    return new ImmutableTree(this.ndb, this.ndb.getRoot(version), version);
  }

  /** The changes that turn version `a` into version `b`. */
  diff(a: number, b: number): KVPair[] {
    const ta = this.getImmutable(a);
    const tb = this.getImmutable(b);
    return diffTrees(this.ndb, ta.root, tb.root);
  }

  /** Deletes versions up to and including `version`; the latest version always stays. */
  async deleteVersionsTo(version: number): Promise<void> {
    this.#ensureLoaded();
    if (version >= this.#version) {
      throw new StoreMigrateError(
        'ERR_VERSION_NOT_FOUND',
        `cannot delete versions up to ${version}: the latest version ${this.#version} must stay`,
      );
    }
    await this.ndb.deleteVersionsTo(version);
    // The working root may sit in the cache that pruning cleared; it is still valid.
  }

  #orphan(n: Node): void {
    // Only the legacy layout records orphans; node-key pruning walks the trees instead.
    if (n.ref !== undefined && this.ndb.layout === 'legacy') this.#orphans.add(n);
  }

  /**
   * A node this version may change: a new node is changed in place (it has one parent and no
   * saved copy); a persisted one is orphaned and cloned, as in iavl.
   */
  #own(n: Node, v: number): Node {
    if (n.ref === undefined) {
      n.hash = undefined;
      return n;
    }
    this.#orphan(n);
    return n.clone(v);
  }

  /** Whether the set() under way replaced a value; a field, so #set allocates no result pairs. */
  #updated = false;

  #set(node: Node, key: Uint8Array, value: Uint8Array, v: number): Node {
    if (node.height === 0) {
      const c = compareBytes(key, node.key);
      if (c === 0) {
        this.#orphan(node);
        this.#updated = true;
        return Node.leaf(key, value, v);
      }
      const inner = new Node(c < 0 ? node.key : key, undefined, v, 1, 2);
      if (c < 0) {
        inner.left = Node.leaf(key, value, v);
        inner.right = node;
      } else {
        inner.left = node;
        inner.right = Node.leaf(key, value, v);
      }
      linkRefs(inner);
      return inner;
    }
    const n = this.#own(node, v);
    if (compareBytes(key, n.key) < 0) {
      n.left = this.#set(this.ndb.left(n), key, value, v);
      n.leftRef = undefined;
    } else {
      n.right = this.#set(this.ndb.right(n), key, value, v);
      n.rightRef = undefined;
    }
    // An update changes no shape: heights, sizes and balance stay as they were.
    if (this.#updated) return n;
    this.#calcHeightAndSize(n);
    return this.#balance(n, v);
  }

  #remove(
    node: Node,
    key: Uint8Array,
    v: number,
  ): { node: Node | null; newKey: Uint8Array | undefined; value: Uint8Array } | undefined {
    if (node.height === 0) {
      if (compareBytes(key, node.key) !== 0) return undefined;
      this.#orphan(node);
      return { node: null, newKey: undefined, value: node.value! };
    }
    if (compareBytes(key, node.key) < 0) {
      const r = this.#remove(this.ndb.left(node), key, v);
      if (r === undefined) return undefined;
      this.#orphan(node);
      // The left leaf went away: the right child takes this node's place, and this node's
      // key (the right subtree's smallest) moves up to the nearest ancestor entered from the right.
      if (r.node === null) return { node: this.ndb.right(node), newKey: node.key, value: r.value };
      const n = this.#own(node, v);
      n.left = r.node;
      n.leftRef = undefined;
      this.#calcHeightAndSize(n);
      return { node: this.#balance(n, v), newKey: r.newKey, value: r.value };
    }
    const r = this.#remove(this.ndb.right(node), key, v);
    if (r === undefined) return undefined;
    this.#orphan(node);
    if (r.node === null) return { node: this.ndb.left(node), newKey: undefined, value: r.value };
    const n = this.#own(node, v);
    n.right = r.node;
    n.rightRef = undefined;
    if (r.newKey !== undefined) n.key = r.newKey;
    this.#calcHeightAndSize(n);
    return { node: this.#balance(n, v), newKey: undefined, value: r.value };
  }

  #calcHeightAndSize(n: Node): void {
    const l = this.ndb.left(n);
    const r = this.ndb.right(n);
    n.height = Math.max(l.height, r.height) + 1;
    n.size = l.size + r.size;
  }

  #balanceOf(n: Node): number {
    return this.ndb.left(n).height - this.ndb.right(n).height;
  }

  /** Rebalances a new node, as cosmos/iavl does after an insert or a remove below it. */
  #balance(n: Node, v: number): Node {
    const b = this.#balanceOf(n);
    if (b > 1) {
      const l = this.ndb.left(n);
      if (this.#balanceOf(l) >= 0) return this.#rotateRight(n, v);
      n.left = this.#rotateLeft(l, v);
      n.leftRef = undefined;
      return this.#rotateRight(n, v);
    }
    if (b < -1) {
      const r = this.ndb.right(n);
      if (this.#balanceOf(r) <= 0) return this.#rotateLeft(n, v);
      n.right = this.#rotateRight(r, v);
      n.rightRef = undefined;
      return this.#rotateLeft(n, v);
    }
    return n;
  }

  #rotateRight(node: Node, v: number): Node {
    const n = this.#own(node, v);
    const top = this.#own(this.ndb.left(n), v);
    // top's right subtree becomes n's left; n becomes top's right.
    n.left = top.right;
    n.leftRef = top.rightRef;
    top.right = n;
    top.rightRef = undefined;
    this.#calcHeightAndSize(n);
    this.#calcHeightAndSize(top);
    return top;
  }

  #rotateLeft(node: Node, v: number): Node {
    const n = this.#own(node, v);
    const top = this.#own(this.ndb.right(n), v);
    n.right = top.left;
    n.rightRef = top.leftRef;
    top.left = n;
    top.leftRef = undefined;
    this.#calcHeightAndSize(n);
    this.#calcHeightAndSize(top);
    return top;
  }
}

/**
 * A new inner node over a persisted child records the child's reference too, and keeps the
 * pointer until saveVersion() (as NodeDb.left/right do) so hashing does not look it up.
 */
function linkRefs(inner: Node): void {
  if (inner.left?.ref !== undefined) inner.leftRef = inner.left.ref;
  if (inner.right?.ref !== undefined) inner.rightRef = inner.right.ref;
}

function describeVersions(versions: number[]): string {
  if (versions.length === 0) return 'none';
  if (versions.length <= 6) return versions.join(', ');
  return `${versions[0]}..${versions.at(-1)} (${versions.length} versions)`;
}

/** One level of a read-ahead: items and the range of sorted keys below each. */
class PrefetchLevel<T = Node> {
  readonly nodes: T[] = [];
  readonly los: number[] = [];
  readonly his: number[] = [];

  add(item: T, lo: number, hi: number): void {
    this.nodes.push(item);
    this.los.push(lo);
    this.his.push(hi);
  }
}
