import type { KvDb, WriteBatch } from '../db/kv-db.js';
import { ByteArena } from '../encoding/byte-arena.js';
import { equalBytes, toHex } from '../encoding/bytes.js';
import { StoreMigrateError } from '../errors.js';
import type { Node } from './node.js';
import { cacheKey, NO_ENTRY, NodeCache, refKey } from './node-cache.js';
import { HASH_SIZE } from './node-codec.js';
import { innerHash, leafHash } from './node-hash.js';

export type TreeLayout = 'legacy' | 'node-key';

export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;

// Decoded nodes kept for one block (see NodeDb.endBlock); a bound for walks that never end one.
const RECENT_MAX = 65_536;

// Hashes of nodes in memory, carved from shared chunks: a 32-byte array with an ArrayBuffer
// of its own per hash was a sixth of what a commit allocated. Nodes live for a block.
const nodeHashes = new ByteArena(16 * 1024);

/**
 * Where a tree's nodes live: one layout's keys under one prefix. Reads are synchronous
 * (getSync) and go through a byte-bounded cache, so a tree walk never awaits per node.
 */
export abstract class NodeDb {
  abstract readonly layout: TreeLayout;
  readonly kv: KvDb;
  protected readonly cache: NodeCache;
  // The nodes decoded since the last endBlock(): a block reads each node on its paths a few
  // times (read-ahead, apply, hashing), and decoding a cache entry again each time was a
  // third of everything a commit allocated.
  readonly #recent = new Map<number, Node>();
  // Bytes of nodes decoded without caching them (a one-pass walk, a node too big to cache).
  readonly #uncached = new ByteArena(16 * 1024);

  constructor(kv: KvDb, cacheBytes = DEFAULT_CACHE_BYTES) {
    if (!kv.supportsGetSync) {
      throw new StoreMigrateError(
        'ERR_DB_OPEN',
        'the database does not support getSync(); use classic-level or memory-level',
      );
    }
    this.kv = kv;
    this.cache = new NodeCache(cacheBytes);
  }

  /** Loads a persisted node by reference. Missing or corrupt nodes raise typed errors. */
  getNode(ref: Uint8Array): Node {
    const held = this.#cachedNode(ref);
    if (held !== undefined) return held;
    const node = this.loadNode(ref, true);
    if (node === undefined) throw missing(ref);
    this.#remember(cacheKey(ref), node);
    return node;
  }

  #remember(k: number, node: Node): void {
    if (this.#recent.size >= RECENT_MAX) this.#recent.clear();
    this.#recent.set(k, node);
  }

  /**
   * Forgets the decoded nodes of the block just committed (the cache keeps their bytes):
   * MutableTree calls it after each saveVersion, so they never outlive a block.
   */
  endBlock(): void {
    this.#recent.clear();
  }

  /**
   * A node for a one-pass walk (export): taken from the cache when there, otherwise read
   * without checking its hash and without caching it. Safe where every hash is recomputed
   * downstream and the root compared, as the importer and restore do.
   */
  peekNode(ref: Uint8Array): Node {
    const node = this.#peekCached(ref) ?? this.loadNode(ref, false);
    if (node === undefined) throw missing(ref);
    return node;
  }

  /** Reads and decodes a node; `verify` checks its hash where the layout allows. */
  protected abstract loadNode(ref: Uint8Array, verify: boolean): Node | undefined;

  /**
   * Where a node usually lives (loadNode knows the exceptions), and how its bytes decode.
   * storageKey is the full database key, this tree's prefix included, carved from the
   * short-lived arena (KvDb.batchKey): it only goes into one batched read.
   */
  protected abstract storageKey(ref: Uint8Array): Uint8Array;
  protected abstract decodeStored(ref: Uint8Array, raw: Uint8Array, verify: boolean): Node;

  /**
   * Decodes a node read from the database from a copy of its bytes, so that the node's fields
   * (views) keep neither LevelDB's per-read backing store nor anything else alive. With
   * `verify` the copy is the cache's (the entry is dropped again if the node fails its check);
   * otherwise it is a short-lived one of this NodeDb's own.
   */
  protected decode(ref: Uint8Array, raw: Uint8Array, verify: boolean): Node {
    const at = verify ? this.cache.add(ref, raw) : NO_ENTRY;
    if (at === NO_ENTRY) return this.decodeStored(ref, this.#uncached.copy(raw), verify);
    try {
      return this.decodeStored(ref, this.cache.value(at), verify);
    } catch (err) {
      this.cache.delete(ref);
      throw err;
    }
  }

  /**
   * Caches a node's stored bytes that reached the database another way (copied from
   * another database as they were), so the reads that follow find them here.
   * @example
   * ndb.cacheStored(nodeKey, raw);
   */
  cacheStored(ref: Uint8Array, raw: Uint8Array): void {
    this.cache.add(ref, raw);
  }

  /** Caches a node this tree just wrote, as the bytes it wrote. */
  protected cacheWritten(ref: Uint8Array, raw: Uint8Array): void {
    this.cache.add(ref, raw);
  }

  // Cached entries were verified when they were read or written.
  #decodeCached(ref: Uint8Array, at: number): Node {
    return this.decodeStored(ref, this.cache.value(at), false);
  }

  /** As getNode, from memory only (undefined: it must be read). */
  #cachedNode(ref: Uint8Array): Node | undefined {
    const k = cacheKey(ref);
    const recent = this.#recent.get(k);
    if (recent !== undefined && equalBytes(recent.ref!, ref)) return recent;
    const at = this.cache.get(ref);
    if (at === NO_ENTRY) return undefined;
    const node = this.#decodeCached(ref, at);
    this.#remember(k, node);
    return node;
  }

  // A one-pass walk keeps nothing it decodes.
  #peekCached(ref: Uint8Array): Node | undefined {
    const at = this.cache.get(ref);
    return at === NO_ENTRY ? undefined : this.#decodeCached(ref, at);
  }

  /**
   * Many nodes in one read on LevelDB's thread pool, so the reads overlap work on this thread.
   * As getNode (verified and cached) or peekNode (neither), by `verify`.
   */
  async loadMany(refs: Uint8Array[], verify: boolean): Promise<Node[]> {
    const out = new Array<Node>(refs.length);
    const todo: number[] = [];
    for (let i = 0; i < refs.length; i++) {
      const cached = verify ? this.#cachedNode(refs[i]) : this.#peekCached(refs[i]);
      if (cached !== undefined) out[i] = cached;
      else todo.push(i);
    }
    if (todo.length === 0) return out;
    const raws = await this.kv.getManyFull(todo.map((i) => this.storageKey(refs[i])));
    for (let j = 0; j < todo.length; j++) {
      const ref = refs[todo[j]];
      const raw = raws[j];
      // Not at its usual key (a moved root): the single read knows where else to look.
      const node = raw === undefined ? this.loadNode(ref, verify) : this.decode(ref, raw, verify);
      if (node === undefined) throw missing(ref);
      if (verify) this.#remember(cacheKey(ref), node);
      out[todo[j]] = node;
    }
    return out;
  }

  /**
   * A node's children. A new node keeps the persisted child it looked up, so the balancing
   * and hashing that follow do not look it up again; saveVersion() drops those pointers, so
   * persisted nodes never pin a subtree in memory.
   */
  left(n: Node): Node {
    if (n.left !== undefined) return n.left;
    const child = this.getNode(n.leftRef!);
    if (n.ref === undefined) n.left = child;
    return child;
  }

  right(n: Node): Node {
    if (n.right !== undefined) return n.right;
    const child = this.getNode(n.rightRef!);
    if (n.ref === undefined) n.right = child;
    return child;
  }

  /**
   * For saveVersion: writes a new node's unsaved children with `save` (left subtree first),
   * then keeps only their references, so a saved node pins no subtree in memory; the cache
   * serves its children from now on.
   */
  protected linkChildren(n: Node, save: (child: Node) => void): void {
    if (n.height === 0) return;
    const l = n.left;
    if (l !== undefined) {
      if (l.ref === undefined) save(l);
      n.leftRef = l.ref;
      n.left = undefined;
    }
    const r = n.right;
    if (r !== undefined) {
      if (r.ref === undefined) save(r);
      n.rightRef = r.ref;
      n.right = undefined;
    }
  }

  /**
   * The node's hash, computing it (and any new descendants') when it is not known yet. It is
   * a view into a shared chunk that the node keeps alive: copy it to keep it past the node.
   */
  hashOf(n: Node): Uint8Array {
    if (n.hash !== undefined) return n.hash;
    const out = nodeHashes.alloc(HASH_SIZE);
    if (n.height === 0) {
      n.hash = leafHash(n.key, n.value!, n.version, out);
    } else {
      n.hash = innerHash(
        n.height,
        n.size,
        n.version,
        this.#childHash(n.left, n.leftRef),
        this.#childHash(n.right, n.rightRef),
        out,
      );
    }
    return n.hash;
  }

  // A 32-byte reference is a legacy child's hash (in either layout): no need to load it.
  #childHash(child: Node | undefined, ref: Uint8Array | undefined): Uint8Array {
    if (child !== undefined) return this.hashOf(child);
    return ref!.length === HASH_SIZE ? ref! : this.hashOf(this.getNode(ref!));
  }

  /** Root of a saved version: null for an empty tree. Throws ERR_VERSION_NOT_FOUND. */
  abstract getRoot(version: number): Node | null;

  abstract hasVersion(version: number): boolean;

  /** Saved versions, ascending. */
  abstract availableVersions(): Promise<number[]>;

  /**
   * Adds a version to `batch`: every new node under `root` (assigning references), the root
   * record, and the bookkeeping pruning needs. `orphans` are persisted nodes that the working
   * version replaced; `previous` is the last saved version (0 if none).
   */
  abstract saveVersion(
    version: number,
    root: Node | null,
    orphans: Iterable<Node>,
    previous: number,
    batch: WriteBatch,
  ): void;

  /** Deletes every version up to and including `version`, and every node only they reached. */
  abstract deleteVersionsTo(version: number): Promise<void>;

  /** Forgets cached nodes, e.g. after pruning deleted some. */
  clearCache(): void {
    this.#recent.clear();
    this.cache.clear();
  }

  /** Persisted nodes reachable from `root` that `keep` does not reach (walks only differing subtrees). */
  protected unreachableFrom(root: Node | null, keep: Set<string>): Node[] {
    const out: Node[] = [];
    if (root === null) return out;
    const stack: Node[] = [root];
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (keep.has(refKey(n.ref!))) continue;
      out.push(n);
      if (n.height > 0) {
        stack.push(this.getNode(n.rightRef!), this.getNode(n.leftRef!));
      }
    }
    return out;
  }
}

function missing(ref: Uint8Array): StoreMigrateError {
  return new StoreMigrateError('ERR_MISSING_NODE', `node ${toHex(ref)} is missing from the database`, {
    details: { node: toHex(ref) },
  });
}
