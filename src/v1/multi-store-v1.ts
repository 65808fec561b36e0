import type { LevelDatabase } from '../db/kv-db.js';
import { KvDb } from '../db/kv-db.js';
import { utf8 } from '../encoding/bytes.js';
import { StoreMigrateError } from '../errors.js';
import type { ImmutableTree } from '../iavl/immutable-tree.js';
import { MutableTree } from '../iavl/mutable-tree.js';
import type { TreeLayout } from '../iavl/node-db.js';
import type { CommitInfo } from '../multistore/commit-info.js';
import { CommitStore, storePrefix } from '../multistore/commit-store.js';
import type { QueryResult } from '../multistore/proof-ops.js';

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
  /**
   * Tree layout of the stores of a new database: `legacy` (default; cosmos-sdk ≤ v0.47) or
   * `node-key` (iavl v1, v0.50+). Stores with data keep the layout they have.
   */
  layout?: TreeLayout;
}

const BARE_TREE_STORE = 'iavl';

/**
 * Store v1: the cosmos-sdk rootmulti layout in one LevelDB. `s/latest` holds the latest
 * version (an Int64Value), `s/<version>` its CommitInfo, and each store is a legacy-layout
 * IAVL tree under `s/k:<name>/`. A database holding a bare cosmos/iavl tree opens read-only
 * as one store named `iavl`, whose app hash is its root hash.
 */
export class MultiStoreV1 extends CommitStore {
  readonly layout: V1Layout;
  readonly #newLayout: TreeLayout;

  private constructor(kv: KvDb, layout: V1Layout, options: MultiStoreV1Options) {
    super(kv, {
      metaPrefix: 's/',
      layout: 'legacy',
      keepRecent: options.keepRecent,
      cacheBytes: options.cacheBytes,
      readOnly: options.readOnly || layout === 'iavl',
    });
    this.layout = layout;
    this.#newLayout = options.layout ?? 'legacy';
  }

  /** Opens (or, for an empty database, creates) a multistore. */
  static async open(db: LevelDatabase | KvDb, options: MultiStoreV1Options = {}): Promise<MultiStoreV1> {
    const kv = db instanceof KvDb ? db : new KvDb(db);
    const hasLatest = (await kv.get(utf8('s/latest'))) !== undefined;
    if (!hasLatest && (await looksLikeBareTree(kv))) {
      const ms = new MultiStoreV1(kv, 'iavl', options);
      const tree = new MutableTree(kv, { layout: 'legacy', cacheBytes: options.cacheBytes });
      ms.latest = await tree.loadVersion();
      ms.trees.set(BARE_TREE_STORE, tree);
      return ms;
    }
    if (!hasLatest && (await hasAnyKey(kv))) {
      throw new StoreMigrateError(
        'ERR_NOT_A_STORE',
        'the database holds data but neither a cosmos multistore (s/latest) nor an iavl tree',
      );
    }
    const ms = new MultiStoreV1(kv, 'rootmulti', options);
    await ms.load(options.stores);
    return ms;
  }

  /**
   * A store's trees are in the legacy layout up to cosmos-sdk v0.47 and in iavl v1's node-key
   * layout from v0.50 (over legacy subtrees after an upgrade): any node-key root or node
   * means node-key, whose reader also follows legacy nodes. A store with no data yet takes the
   * layout of the others, so a database keeps being written as the Go node that owns it would.
   */
  protected override async storeLayout(name: string): Promise<TreeLayout> {
    if (await hasNodeKeyData(this.kv.sub(storePrefix(name)))) return 'node-key';
    if (await hasLegacyData(this.kv.sub(storePrefix(name)))) return 'legacy';
    const others = this.lastCommitInfo?.stores ?? [];
    for (const other of others) {
      if (other.name !== name && (await hasNodeKeyData(this.kv.sub(storePrefix(other.name)))))
        return 'node-key';
    }
    return others.length > 0 ? 'legacy' : this.#newLayout;
  }

  override async versions(): Promise<number[]> {
    if (this.layout === 'iavl') return this.tree(BARE_TREE_STORE).availableVersions();
    return super.versions();
  }

  override async getCommitInfo(version: number): Promise<CommitInfo> {
    if (this.layout === 'rootmulti') return super.getCommitInfo(version);
    const t = this.tree(BARE_TREE_STORE).getImmutable(version);
    return { version, stores: [{ name: BARE_TREE_STORE, version, hash: t.hash }], appHash: t.hash };
  }

  override async immutable(store: string, version: number): Promise<ImmutableTree> {
    if (this.layout === 'rootmulti') return super.immutable(store, version);
    return this.tree(store).getImmutable(version);
  }

  override async query(store: string, key: Uint8Array, height?: number, prove = false): Promise<QueryResult> {
    if (prove && this.layout === 'iavl') {
      throw new StoreMigrateError('ERR_INVALID_PARAMS', 'proofs need a multistore; this is a bare iavl tree');
    }
    return super.query(store, key, height, prove);
  }
}

/** A node-key node or root ('s' + u64be + u32be) under a store's prefix. */
async function hasNodeKeyData(kv: KvDb): Promise<boolean> {
  for await (const k of kv.keys({ gte: utf8('s'), lt: utf8('t'), limit: 1 })) return k.length === 13;
  return false;
}

/** A legacy root record ('r' + u64be) under a store's prefix. */
async function hasLegacyData(kv: KvDb): Promise<boolean> {
  for await (const k of kv.keys({ gte: utf8('r'), lt: utf8('s'), limit: 1 })) return k.length === 9;
  return false;
}

async function looksLikeBareTree(kv: KvDb): Promise<boolean> {
  for await (const k of kv.keys({ gte: utf8('r'), lt: utf8('s'), limit: 1 })) return k.length === 9;
  return false;
}

async function hasAnyKey(kv: KvDb): Promise<boolean> {
  for await (const _ of kv.keys({ limit: 1 })) return true;
  return false;
}
