import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { Int64ValueSchema } from '@bufbuild/protobuf/wkt';
import type { KvDb } from '../db/kv-db.js';
import { fromUtf8, toHex, utf8 } from '../encoding/bytes.js';
import type { Changeset } from '../encoding/changeset.js';
import { isStoreMigrateError, StoreMigrateError } from '../errors.js';
import type { ImmutableTree } from '../iavl/immutable-tree.js';
import { MutableTree } from '../iavl/mutable-tree.js';
import type { TreeLayout } from '../iavl/node-db.js';
import {
  type CommitInfo,
  decodeCommitInfo,
  encodeCommitInfo,
  isTreeless,
  makeCommitInfo,
  type StoreInfo,
} from './commit-info.js';
import { type QueryResult, queryProofOps } from './proof-ops.js';

export function storePrefix(name: string): Uint8Array {
  return utf8(`s/k:${name}/`);
}

/** The key range of every store's tree (`s/k:` …). */
export function allStoresRange(): { gte: Uint8Array; lt: Uint8Array } {
  return { gte: utf8('s/k:'), lt: utf8('s/k;') };
}

export function validateStoreName(name: string): void {
  if (name.length === 0 || name.includes('/')) {
    throw new StoreMigrateError('ERR_INVALID_PARAMS', `invalid store name ${JSON.stringify(name)}`);
  }
}

export function decodeLatest(raw: Uint8Array): number {
  try {
    return Number(fromBinary(Int64ValueSchema, raw).value);
  } catch (err) {
    throw new StoreMigrateError('ERR_MALFORMED_PROTOBUF', 'latest-version record does not decode', {
      cause: err,
    });
  }
}

export function encodeLatest(version: number): Uint8Array {
  return toBinary(Int64ValueSchema, create(Int64ValueSchema, { value: BigInt(version) }));
}

export interface CommitStoreOptions {
  /** Key prefix of the commit records: `s/` for rootmulti, `c/` for StateCommitment. */
  metaPrefix: string;
  layout: TreeLayout;
  keepRecent?: number;
  cacheBytes?: number;
  readOnly?: boolean;
}

/**
 * Many named IAVL trees in one database, committed together: `<meta>latest` holds the latest
 * version and `<meta><version>` its CommitInfo, each tree lives under `s/k:<name>/`. Every
 * commit writes all trees and both records in one atomic batch. MultiStoreV1 (legacy trees,
 * `s/`) and StateCommitment (node-key trees, `c/`) are both this.
 */
export class CommitStore {
  readonly kv: KvDb;
  protected readonly trees = new Map<string, MutableTree>();
  /**
   * Stores the commit info lists with an empty CommitID and that have no tree: memory stores,
   * which cosmos-sdk before v0.47 listed. They count in the app hash, so every commit keeps them.
   */
  protected readonly treeless = new Set<string>();
  /** Trees of stores no longer mounted (deleted by a store upgrade), opened to read old heights. */
  readonly #retired = new Map<string, MutableTree>();
  readonly #meta: string;
  readonly #layout: TreeLayout;
  readonly #keepRecent: number;
  readonly #cacheBytes: number | undefined;
  protected readOnlyFlag: boolean;
  protected latest = 0;
  protected lastCommit: CommitInfo | undefined;

  protected constructor(kv: KvDb, options: CommitStoreOptions) {
    this.kv = kv;
    this.#meta = options.metaPrefix;
    this.#layout = options.layout;
    this.#keepRecent = options.keepRecent ?? 0;
    this.#cacheBytes = options.cacheBytes;
    this.readOnlyFlag = options.readOnly ?? false;
  }

  protected latestKey(): Uint8Array {
    return utf8(`${this.#meta}latest`);
  }

  protected commitInfoKey(version: number): Uint8Array {
    return utf8(`${this.#meta}${version}`);
  }

  /** Reads the latest record and mounts the stores it names (or `stores`, when empty). */
  protected async load(stores: string[] | undefined): Promise<void> {
    const raw = await this.kv.get(this.latestKey());
    let names: string[];
    if (raw === undefined) {
      names = [...new Set(stores ?? [])].sort();
      for (const n of names) validateStoreName(n);
    } else {
      this.latest = decodeLatest(raw);
      this.lastCommit = await this.getCommitInfo(this.latest);
      names = [];
      for (const s of this.lastCommit.stores) {
        if (isTreeless(s)) this.treeless.add(s.name);
        else names.push(s.name);
      }
      const extra = (stores ?? []).filter((s) => !names.includes(s));
      if (extra.length > 0) {
        throw new StoreMigrateError(
          'ERR_UNKNOWN_STORE',
          `stores ${extra.join(', ')} are not in this database (it has ${names.join(', ') || 'none'}); adding stores is not supported`,
        );
      }
    }
    for (const name of names) {
      const tree = this.newTree(name, await this.storeLayout(name));
      try {
        await tree.loadVersion(this.latest === 0 ? undefined : this.latest);
      } catch (err) {
        if (!isStoreMigrateError(err, 'ERR_VERSION_NOT_FOUND')) throw err;
        const root = toHex(this.lastCommit?.stores.find((s) => s.name === name)?.hash ?? new Uint8Array(0));
        throw new StoreMigrateError(
          'ERR_MISSING_TREE',
          `store ${name}: the commit info of version ${this.latest} names root ${root}, but the store has no tree at that version`,
          { cause: err, details: { store: name, version: this.latest } },
        );
      }
      this.trees.set(name, tree);
    }
  }

  /** The layout a store's tree is in (the store's own data decides; StateCommitment's is fixed). */
  protected async storeLayout(_name: string): Promise<TreeLayout> {
    return this.#layout;
  }

  protected newTree(name: string, layout: TreeLayout = this.#layout): MutableTree {
    return new MutableTree(this.kv, {
      layout,
      prefix: storePrefix(name),
      cacheBytes: this.#cacheBytes,
    });
  }

  get latestVersion(): number {
    return this.latest;
  }

  get readOnly(): boolean {
    return this.readOnlyFlag;
  }

  /** The last commit's info (undefined before the first commit). */
  get lastCommitInfo(): CommitInfo | undefined {
    return this.lastCommit;
  }

  /** Mounted store names (the stores with trees), sorted. */
  storeNames(): string[] {
    return [...this.trees.keys()].sort();
  }

  /** Stores in the commit info that have no tree (memory stores of cosmos-sdk before v0.47), sorted. */
  treelessStoreNames(): string[] {
    return [...this.treeless].sort();
  }

  tree(store: string): MutableTree {
    const t = this.trees.get(store);
    if (t === undefined) {
      throw new StoreMigrateError('ERR_UNKNOWN_STORE', `unknown store ${JSON.stringify(store)}`, {
        details: { store },
      });
    }
    return t;
  }

  /**
   * Versions that can be read: a commit info, and every tree it names at that version,
   * ascending. Pruning keeps the commit info of heights whose trees it deleted.
   */
  async versions(): Promise<number[]> {
    const perStore = new Map<string, Set<number>>();
    const candidates = new Set<number>();
    for (const [name, t] of this.trees) {
      const vs = await t.availableVersions();
      perStore.set(name, new Set(vs));
      for (const v of vs) candidates.add(v);
    }
    if (this.trees.size === 0) return this.commitHeights();
    const out: number[] = [];
    for (const h of [...candidates].sort((a, b) => a - b)) {
      const raw = await this.kv.get(this.commitInfoKey(h));
      if (raw === undefined) continue;
      const stores = decodeCommitInfo(raw).stores;
      const hasTree = (s: StoreInfo) =>
        isTreeless(s) || (perStore.get(s.name)?.has(h) ?? this.#retiredTree(s.name).ndb.hasVersion(h));
      if (stores.every(hasTree)) out.push(h);
    }
    return out;
  }

  /** Heights that have a commit info, queryable or not, ascending. */
  async commitHeights(): Promise<number[]> {
    const out: number[] = [];
    for await (const k of this.kv.keys({ gte: utf8(`${this.#meta}0`), lt: utf8(`${this.#meta}:`) })) {
      const s = fromUtf8(k).slice(this.#meta.length);
      if (/^[0-9]+$/.test(s)) out.push(Number(s));
    }
    return out.sort((a, b) => a - b);
  }

  async getCommitInfo(version: number): Promise<CommitInfo> {
    const raw = await this.kv.get(this.commitInfoKey(version));
    if (raw === undefined) {
      const versions = await this.commitHeights();
      const pruned = versions.length > 0 && version < versions[0];
      throw new StoreMigrateError(
        pruned ? 'ERR_VERSION_PRUNED' : 'ERR_VERSION_NOT_FOUND',
        pruned
          ? `version ${version} was pruned (earliest is ${versions[0]})`
          : `version ${version} does not exist (latest is ${this.latest})`,
        { details: { version } },
      );
    }
    return decodeCommitInfo(raw);
  }

  /**
   * A read-only view of one store at one version. A height whose commit info remains but
   * whose trees were pruned is ERR_VERSION_PRUNED, naming the nearest heights that can be read.
   */
  async immutable(store: string, version: number): Promise<ImmutableTree> {
    const mounted = this.trees.get(store);
    const ci = await this.getCommitInfo(version);
    const entry = ci.stores.find((s) => s.name === store);
    if (entry === undefined || isTreeless(entry)) {
      this.tree(store); // an unknown store is ERR_UNKNOWN_STORE
      throw new StoreMigrateError(
        'ERR_UNKNOWN_STORE',
        entry === undefined
          ? `store ${JSON.stringify(store)} is not in the commit of version ${version}`
          : `store ${JSON.stringify(store)} has no tree (a memory store, listed with an empty commit id)`,
        { details: { store, version } },
      );
    }
    const tree = mounted ?? this.#retiredTree(store);
    if (!tree.ndb.hasVersion(version)) throw await this.#prunedError(version);
    return tree.getImmutable(version);
  }

  #retiredTree(name: string): MutableTree {
    let t = this.#retired.get(name);
    if (t === undefined) {
      // Read only: the layout matters only for how its roots are found, and the node-key
      // reader also reads legacy roots and nodes.
      t = this.newTree(name, 'node-key');
      this.#retired.set(name, t);
    }
    return t;
  }

  async #prunedError(version: number): Promise<StoreMigrateError> {
    const versions = await this.versions();
    const below = versions.filter((v) => v < version).at(-1);
    const above = versions.find((v) => v > version);
    const nearest = [below, above].filter((v) => v !== undefined).join(' and ');
    return new StoreMigrateError(
      'ERR_VERSION_PRUNED',
      `version ${version} was pruned: its commit info remains, its trees do not (nearest that can be read: ${nearest || 'none'})`,
      { details: { version, below, above } },
    );
  }

  /** Checks a changeset against the mounted stores before anything is applied. */
  validate(cs: Changeset): void {
    for (const sc of cs.changes) {
      this.tree(sc.store);
      for (const p of sc.pairs) {
        if (p.key.length === 0) {
          throw new StoreMigrateError('ERR_EMPTY_KEY', `empty key in store ${sc.store}`, {
            details: { store: sc.store },
          });
        }
        if (!p.remove && p.value === undefined) {
          throw new StoreMigrateError(
            'ERR_INVALID_CHANGESET',
            `key ${toHex(p.key)} in ${sc.store} has no value`,
          );
        }
      }
    }
  }

  protected checkWritable(): void {
    if (this.readOnlyFlag) throw new StoreMigrateError('ERR_READ_ONLY', 'this store is open read-only');
  }

  /** Applies a changeset to the working trees (validated first, so all or nothing). */
  writeChangeset(cs: Changeset): void {
    this.checkWritable();
    this.validate(cs);
    for (const sc of cs.changes) {
      const t = this.tree(sc.store);
      for (const p of sc.pairs) {
        if (p.remove) t.remove(p.key);
        else t.set(p.key, p.value!);
      }
    }
  }

  /** Refuses any version but the next one, dropping the working changes as a failed commit does. */
  protected async checkNextVersion(version: number): Promise<void> {
    const next = this.latest + 1;
    if (version === next) return;
    await this.rollback();
    throw new StoreMigrateError(
      version <= this.latest ? 'ERR_VERSION_EXISTS' : 'ERR_CHANGESET_GAP',
      version <= this.latest
        ? `version ${version} is already committed (latest is ${this.latest})`
        : `version ${version} skips ahead: the next version is ${next}`,
      { details: { expected: next, got: version } },
    );
  }

  /** Writes a version's commit info and the latest record (its trees are written), then prunes. */
  protected async recordCommit(ci: CommitInfo): Promise<CommitInfo> {
    const batch = this.kv.batch();
    batch.put(this.kv.key(this.commitInfoKey(ci.version)), encodeCommitInfo(ci));
    batch.put(this.kv.key(this.latestKey()), encodeLatest(ci.version));
    await batch.write();
    this.latest = ci.version;
    this.lastCommit = ci;
    await this.#pruneAfter(ci.version);
    return ci;
  }

  async #pruneAfter(version: number): Promise<void> {
    if (this.#keepRecent > 0 && version - this.#keepRecent >= 1) await this.prune(version - this.#keepRecent);
  }

  /**
   * Commits the working trees as `version`, which must be the next one. With `gate`, the trees
   * are hashed and staged first and written only once it settles: a write-ahead log elsewhere
   * (RootStore's changeset buffer) is made durable meanwhile instead of before. `onPut` sees
   * each put of the version's batch (full keys), e.g. to hand the new nodes on.
   */
  async commitVersion(
    version: number,
    gate?: Promise<unknown>,
    onPut?: (key: Uint8Array, value: Uint8Array) => void,
  ): Promise<CommitInfo> {
    this.checkWritable();
    await this.checkNextVersion(version);
    const batch = this.kv.batch();
    batch.onPut = onPut;
    try {
      const stores = [];
      for (const name of this.storeNames()) {
        const r = this.tree(name).stageVersion(batch);
        stores.push({ name, version: r.version, hash: r.hash });
      }
      for (const name of this.treeless) stores.push({ name, version: 0, hash: new Uint8Array(0) });
      const ci = makeCommitInfo(version, stores, Date.now());
      batch.put(this.kv.key(this.commitInfoKey(version)), encodeCommitInfo(ci));
      batch.put(this.kv.key(this.latestKey()), encodeLatest(version));
      if (gate) await gate.catch(() => {}); // its outcome is the caller's; only the order matters here
      await batch.write();
      this.latest = version;
      this.lastCommit = ci;
    } catch (err) {
      await this.rollback();
      throw err;
    }
    await this.#pruneAfter(version);
    return this.lastCommit;
  }

  /**
   * Validates, applies and commits a changeset as the next version (or `expectedVersion`);
   * `gate` holds the write back and `onPut` sees its puts, as in commitVersion.
   */
  async commit(
    cs: Changeset,
    expectedVersion?: number,
    gate?: Promise<unknown>,
    onPut?: (key: Uint8Array, value: Uint8Array) => void,
  ): Promise<CommitInfo> {
    this.checkWritable();
    const version = expectedVersion ?? this.latest + 1;
    if (version !== this.latest + 1) return this.commitVersion(version);
    this.validate(cs);
    // The nodes the changes visit come in on LevelDB's threads first, so applying them below
    // does not block this thread on one read per node.
    await Promise.all(cs.changes.map((c) => this.tree(c.store).prefetch(c.pairs.map((p) => p.key))));
    try {
      this.writeChangeset(cs);
    } catch (err) {
      // Part of the changeset may be in the working trees: drop it, so nothing half-applied stays.
      await this.rollback();
      throw err;
    }
    return this.commitVersion(version, gate, onPut);
  }

  /** Drops unsaved and staged changes: every tree goes back to the last committed version. */
  async rollback(): Promise<void> {
    for (const t of this.trees.values()) {
      t.abandonStaged();
      await t.loadVersion(this.latest === 0 ? undefined : this.latest);
    }
  }

  /** Deletes versions up to and including `version` from every store, and their commit infos. */
  async prune(version: number): Promise<void> {
    this.checkWritable();
    // Commit infos first, so a crash halfway never leaves a version that looks complete.
    const batch = this.kv.batch();
    for (const v of await this.commitHeights())
      if (v <= version) batch.del(this.kv.key(this.commitInfoKey(v)));
    await batch.write();
    for (const t of this.trees.values()) await t.deleteVersionsTo(version);
  }

  /** The value of `key` in `store` at `height` (default latest), with the ICS23 proof chain when `prove`. */
  async query(store: string, key: Uint8Array, height?: number, prove = false): Promise<QueryResult> {
    const h = height ?? this.latest;
    const ci = await this.getCommitInfo(h);
    const t = await this.immutable(store, h);
    try {
      const value = t.get(key);
      if (!prove) return { value, height: h };
      return { value, height: h, proof: queryProofOps(key, store, t.proof(key), ci) };
    } catch (err) {
      // A node read failed (missing, corrupt, I/O): say where.
      throw StoreMigrateError.wrap(err, `store ${store} at height ${h}`, { store, height: h });
    }
  }
}
