import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { Int64ValueSchema } from '@bufbuild/protobuf/wkt';
import type { KvDb as KvDbType, LevelDatabase } from '../db/kv-db.js';
import { KvDb } from '../db/kv-db.js';
import { fromUtf8, toHex, utf8 } from '../encoding/bytes.js';
import type { Changeset } from '../encoding/changeset.js';
import { StoreMigrateError } from '../errors.js';
import type { ImmutableTree } from '../iavl/immutable-tree.js';
import { MutableTree } from '../iavl/mutable-tree.js';
import { type CommitInfo, decodeCommitInfo, encodeCommitInfo, makeCommitInfo } from './commit-info.js';
import { type QueryResult, queryProofOps } from './proof-ops.js';

export type V1Layout = 'rootmulti' | 'iavl';

export interface MultiStoreV1Options {
  /** Stores to mount when the database is new. An existing database mounts the stores it has. */
  stores?: string[];
  /** Keep only the last N versions (0: keep everything). */
  keepRecent?: number;
  /** Node cache per store, in bytes. */
  cacheBytes?: number;
  /** Refuse every write. Bare iavl trees are always read-only. */
  readOnly?: boolean;
}

const LATEST_KEY = utf8('s/latest');
const BARE_TREE_STORE = 'iavl';

function commitInfoKey(version: number): Uint8Array {
  return utf8(`s/${version}`);
}

export function storePrefix(name: string): Uint8Array {
  return utf8(`s/k:${name}/`);
}

export function validateStoreName(name: string): void {
  if (name.length === 0 || name.includes('/')) {
    throw new StoreMigrateError('ERR_INVALID_PARAMS', `invalid store name ${JSON.stringify(name)}`);
  }
}

/**
 * Store v1: the cosmos-sdk rootmulti layout in one LevelDB. `s/latest` holds the latest
 * version, `s/<version>` its CommitInfo, and each store is a legacy-layout IAVL tree under
 * `s/k:<name>/`. Every commit writes all trees, the commit info and `s/latest` in one batch.
 */
export class MultiStoreV1 {
  readonly kv: KvDbType;
  readonly layout: V1Layout;
  readonly #trees = new Map<string, MutableTree>();
  readonly #keepRecent: number;
  readonly #readOnly: boolean;
  #latest = 0;
  #lastCommit: CommitInfo | undefined;

  private constructor(kv: KvDbType, layout: V1Layout, keepRecent: number, readOnly: boolean) {
    this.kv = kv;
    this.layout = layout;
    this.#keepRecent = keepRecent;
    this.#readOnly = readOnly || layout === 'iavl';
  }

  /** Opens (or, for an empty database, creates) a multistore; a bare iavl tree opens read-only. */
  static async open(db: LevelDatabase | KvDbType, options: MultiStoreV1Options = {}): Promise<MultiStoreV1> {
    const kv = db instanceof KvDb ? db : new KvDb(db);
    const latestRaw = await kv.get(LATEST_KEY);
    if (latestRaw === undefined && (await MultiStoreV1.#looksLikeBareTree(kv))) {
      const ms = new MultiStoreV1(kv, 'iavl', 0, true);
      const tree = new MutableTree(kv, { layout: 'legacy', cacheBytes: options.cacheBytes });
      ms.#latest = await tree.loadVersion();
      ms.#trees.set(BARE_TREE_STORE, tree);
      return ms;
    }
    const ms = new MultiStoreV1(kv, 'rootmulti', options.keepRecent ?? 0, options.readOnly ?? false);
    let names: string[];
    if (latestRaw === undefined) {
      if ((await MultiStoreV1.#hasAnyKey(kv)) && !options.readOnly) {
        throw new StoreMigrateError(
          'ERR_NOT_A_STORE',
          'the database holds data but neither a cosmos multistore (s/latest) nor an iavl tree',
        );
      }
      names = [...new Set(options.stores ?? [])].sort();
      for (const n of names) validateStoreName(n);
    } else {
      ms.#latest = decodeLatest(latestRaw);
      const ci = await ms.getCommitInfo(ms.#latest);
      ms.#lastCommit = ci;
      names = ci.stores.map((s) => s.name);
      const extra = (options.stores ?? []).filter((s) => !names.includes(s));
      if (extra.length > 0) {
        throw new StoreMigrateError(
          'ERR_UNKNOWN_STORE',
          `stores ${extra.join(', ')} are not in this multistore (it has ${names.join(', ') || 'none'}); adding stores is not supported`,
        );
      }
    }
    for (const name of names) {
      const tree = new MutableTree(kv, {
        layout: 'legacy',
        prefix: storePrefix(name),
        cacheBytes: options.cacheBytes,
      });
      await tree.loadVersion(ms.#latest === 0 ? undefined : ms.#latest);
      ms.#trees.set(name, tree);
    }
    return ms;
  }

  static async #looksLikeBareTree(kv: KvDbType): Promise<boolean> {
    for await (const k of kv.keys({ gte: utf8('r'), lt: utf8('s'), limit: 1 })) return k.length === 9;
    return false;
  }

  static async #hasAnyKey(kv: KvDbType): Promise<boolean> {
    for await (const _ of kv.keys({ limit: 1 })) return true;
    return false;
  }

  get latestVersion(): number {
    return this.#latest;
  }

  get readOnly(): boolean {
    return this.#readOnly;
  }

  /** Mounted store names, sorted. */
  storeNames(): string[] {
    return [...this.#trees.keys()].sort();
  }

  tree(store: string): MutableTree {
    const t = this.#trees.get(store);
    if (t === undefined) {
      throw new StoreMigrateError('ERR_UNKNOWN_STORE', `unknown store ${JSON.stringify(store)}`, {
        details: { store },
      });
    }
    return t;
  }

  /** Versions that still have a commit info, ascending. */
  async versions(): Promise<number[]> {
    if (this.layout === 'iavl') return this.tree(BARE_TREE_STORE).availableVersions();
    const out: number[] = [];
    for await (const k of this.kv.keys({ gte: utf8('s/0'), lt: utf8('s/:') })) {
      const s = fromUtf8(k).slice(2);
      if (/^[0-9]+$/.test(s)) out.push(Number(s));
    }
    return out.sort((a, b) => a - b);
  }

  async getCommitInfo(version: number): Promise<CommitInfo> {
    if (this.layout === 'iavl') {
      const t = this.tree(BARE_TREE_STORE).getImmutable(version);
      // A bare tree has no multistore: its app hash is its root hash.
      return { version, stores: [{ name: BARE_TREE_STORE, version, hash: t.hash }], appHash: t.hash };
    }
    const raw = await this.kv.get(commitInfoKey(version));
    if (raw === undefined) {
      const versions = await this.versions();
      const pruned = versions.length > 0 && version < versions[0];
      throw new StoreMigrateError(
        pruned ? 'ERR_VERSION_PRUNED' : 'ERR_VERSION_NOT_FOUND',
        pruned
          ? `version ${version} was pruned (earliest is ${versions[0]})`
          : `version ${version} does not exist (latest is ${this.#latest})`,
        { details: { version } },
      );
    }
    return decodeCommitInfo(raw);
  }

  /** The last commit's info (undefined before the first commit). */
  get lastCommitInfo(): CommitInfo | undefined {
    return this.#lastCommit;
  }

  /** A read-only view of one store at one version. */
  async immutable(store: string, version: number): Promise<ImmutableTree> {
    const tree = this.tree(store);
    if (this.layout === 'rootmulti') await this.getCommitInfo(version);
    return tree.getImmutable(version);
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

  /**
   * Commits a changeset as the next version (or checks that it is `expectedVersion`). All
   * trees, the commit info and `s/latest` go into one atomic batch; on any error nothing is
   * written and the store stays at its previous version.
   */
  async commit(cs: Changeset, expectedVersion?: number): Promise<CommitInfo> {
    if (this.#readOnly) throw new StoreMigrateError('ERR_READ_ONLY', 'this v1 store is open read-only');
    const version = this.#latest + 1;
    if (expectedVersion !== undefined && expectedVersion !== version) {
      throw new StoreMigrateError(
        expectedVersion <= this.#latest ? 'ERR_VERSION_EXISTS' : 'ERR_CHANGESET_GAP',
        expectedVersion <= this.#latest
          ? `version ${expectedVersion} is already committed (latest is ${this.#latest})`
          : `version ${expectedVersion} skips ahead: the next version is ${version}`,
        { details: { expected: version, got: expectedVersion } },
      );
    }
    this.validate(cs);
    const batch = this.kv.batch();
    const stores = [];
    try {
      for (const sc of cs.changes) {
        const t = this.tree(sc.store);
        for (const p of sc.pairs) {
          if (p.remove) t.remove(p.key);
          else t.set(p.key, p.value!);
        }
      }
      for (const name of this.storeNames()) {
        const r = this.tree(name).stageVersion(batch);
        stores.push({ name, version: r.version, hash: r.hash });
      }
      const ci = makeCommitInfo(version, stores, Date.now());
      batch.put(this.kv.key(commitInfoKey(version)), encodeCommitInfo(ci));
      batch.put(this.kv.key(LATEST_KEY), encodeLatest(version));
      await batch.write();
      this.#latest = version;
      this.#lastCommit = ci;
    } catch (err) {
      await this.#restore();
      throw err;
    }
    if (this.#keepRecent > 0 && version - this.#keepRecent >= 1) await this.prune(version - this.#keepRecent);
    return this.#lastCommit!;
  }

  /** Puts every tree back at the last committed version, dropping staged or unsaved changes. */
  async #restore(): Promise<void> {
    for (const t of this.#trees.values()) {
      t.abandonStaged();
      await t.loadVersion(this.#latest === 0 ? undefined : this.#latest);
    }
  }

  /** Deletes versions up to and including `version` from every store, and their commit infos. */
  async prune(version: number): Promise<void> {
    if (this.#readOnly) throw new StoreMigrateError('ERR_READ_ONLY', 'this v1 store is open read-only');
    // Commit infos first, so a crash halfway never leaves a version that looks complete.
    const batch = this.kv.batch();
    for (const v of await this.versions()) if (v <= version) batch.del(this.kv.key(commitInfoKey(v)));
    await batch.write();
    for (const t of this.#trees.values()) await t.deleteVersionsTo(version);
  }

  /**
   * The value of `key` in `store` at `height` (default: latest), with the ICS23 proof chain
   * when `prove` is set.
   */
  async query(store: string, key: Uint8Array, height?: number, prove = false): Promise<QueryResult> {
    const h = height ?? this.#latest;
    const ci = await this.getCommitInfo(h);
    const t = await this.immutable(store, h);
    const value = t.get(key);
    if (!prove) return { value, height: h };
    if (this.layout === 'iavl') {
      throw new StoreMigrateError('ERR_INVALID_PARAMS', 'proofs need a multistore; this is a bare iavl tree');
    }
    return { value, height: h, proof: queryProofOps(key, store, t.proof(key), ci) };
  }
}

function decodeLatest(raw: Uint8Array): number {
  try {
    return Number(fromBinary(Int64ValueSchema, raw).value);
  } catch (err) {
    throw new StoreMigrateError('ERR_MALFORMED_PROTOBUF', 's/latest does not decode', { cause: err });
  }
}

function encodeLatest(version: number): Uint8Array {
  return toBinary(Int64ValueSchema, create(Int64ValueSchema, { value: BigInt(version) }));
}
