import type { LevelDatabase } from '../../db/kv-db.js';
import { KvDb } from '../../db/kv-db.js';
import { equalBytes, fromUtf8, toHex, utf8 } from '../../encoding/bytes.js';
import { StoreMigrateError } from '../../errors.js';
import { decodeImporterState, Importer, type ImporterOptions } from '../../iavl/importer.js';
import { NODE_KEY_SIZE } from '../../iavl/node-codec.js';
import { type CommitInfo, encodeCommitInfo, makeCommitInfo } from '../../multistore/commit-info.js';
import {
  allStoresRange,
  CommitStore,
  encodeLatest,
  validateStoreName,
} from '../../multistore/commit-store.js';
import type { SnapshotItem } from '../../snapshots/snapshot-item.js';
import type { MigrationStream } from '../../stream/migration-stream.js';
import { scRestoreStoreKey, V2Keys } from '../home/v2-keys.js';

export interface StateCommitmentOptions {
  /** Stores to mount when the database is new. */
  stores?: string[];
  keepRecent?: number;
  cacheBytes?: number;
  readOnly?: boolean;
}

/** One store's nodes of one version as v1 keeps them (keys within the store's tree), and its root hash there. */
export interface CopiedStore {
  name: string;
  entries: Array<[Uint8Array, Uint8Array]>;
  hash: Uint8Array;
}

/** A leaf on its way to StateStorage during a restore. */
export interface RestoredLeaf {
  store: string;
  key: Uint8Array;
  value: Uint8Array;
}

export interface RestoreOptions {
  /** Leaves are forwarded here as they are imported (for StateStorage); closed at the end. */
  leaves?: MigrationStream<RestoredLeaf>;
  signal?: AbortSignal;
  /** Awaited every 64 leaves actually imported (not those a resume skips): throttling and pausing. */
  pace?: (leaves: number) => Promise<void> | void;
  /** Flush (and checkpoint) every this many bytes of nodes. */
  batchBytes?: number;
  /** Called every few thousand nodes with the running counts. */
  onProgress?: (p: { store: string; nodes: number; leaves: number }) => void;
  /**
   * Stores the source lists with an empty commit id and no tree (memory stores of cosmos-sdk
   * before v0.47): kept in the commit info, so the app hash stays the source's.
   */
  treelessStores?: string[];
}

/**
 * Store v2 StateCommitment: one IAVL tree per store in the node-key layout (iavl v1), commit
 * info under `c/latest` and `c/<version>` with the same CommitInfo message and app hash as
 * rootmulti, so a migrated height hashes exactly as it did on v1.
 */
export class StateCommitment extends CommitStore {
  #nodeKeysOfV1 = false;

  private constructor(kv: KvDb, options: StateCommitmentOptions) {
    super(kv, {
      metaPrefix: V2Keys.scMetaPrefix,
      layout: 'node-key',
      keepRecent: options.keepRecent,
      cacheBytes: options.cacheBytes,
      readOnly: options.readOnly,
    });
  }

  static async open(
    db: LevelDatabase | KvDb,
    options: StateCommitmentOptions = {},
  ): Promise<StateCommitment> {
    const kv = db instanceof KvDb ? db : new KvDb(db);
    const sc = new StateCommitment(kv, options);
    await sc.load(options.stores);
    sc.#nodeKeysOfV1 = (await kv.get(V2Keys.scNodeKeysOfV1)) !== undefined;
    return sc;
  }

  /**
   * Whether the trees were restored with v1's own node keys, so that a later version can be
   * copied from v1 node for node (commitCopied) instead of replayed.
   */
  get nodeKeysOfV1(): boolean {
    return this.#nodeKeysOfV1;
  }

  /**
   * Commits `version` from v1's nodes of that version, as they are: no tree is rebuilt or
   * hashed, which is what makes the sync faster than the node's own commits. Only for trees
   * restored with v1's node keys (`nodeKeysOfV1`), whose every node v1's new ones may point
   * at is here under the same key. Each store's root at `version` must hash as `hash` says
   * (v1's commit info), or nothing is committed and the error is ERR_HASH_MISMATCH.
   * `check` runs on the trees loaded at `version` before it is committed; what it throws
   * commits nothing either.
   * @example
   * await sc.commitCopied(101, [{ name: 'bank', entries, hash }]);
   */
  async commitCopied(version: number, stores: CopiedStore[], check?: () => void): Promise<CommitInfo> {
    this.checkWritable();
    await this.checkNextVersion(version);
    const names = stores.map((s) => s.name).sort();
    if (!this.#nodeKeysOfV1 || names.join('/') !== this.storeNames().join('/')) {
      throw new StoreMigrateError(
        'ERR_INTERNAL',
        `cannot copy version ${version}: the stores (${names.join(', ')}) are not this StateCommitment's with v1's node keys`,
      );
    }
    const nodes = this.kv.batch();
    for (const s of stores) {
      const tree = this.tree(s.name);
      for (const [k, v] of s.entries) {
        nodes.put(tree.kv.batchKey(k[0], k.subarray(1)), v);
        // The version's new inner nodes are where its reads go next (its root, the removals'
        // paths); its leaves are not (a leaf's body starts with zigzag(0)).
        if (k.length === 1 + NODE_KEY_SIZE && v.length > 0 && v[0] !== S && v[0] !== 0)
          tree.ndb.cacheStored(k.subarray(1), v);
      }
    }
    await nodes.write();
    try {
      for (const s of stores) {
        const tree = this.tree(s.name);
        tree.moveToSaved(version);
        const hash = tree.getImmutable(version).hash;
        if (!equalBytes(hash, s.hash)) {
          throw new StoreMigrateError(
            'ERR_HASH_MISMATCH',
            `store ${s.name}: version ${version} copied from v1 hashes to ${toHex(hash)}, but v1 committed ${toHex(s.hash)}`,
            { details: { store: s.name, version } },
          );
        }
      }
      check?.();
    } catch (err) {
      // The copied nodes stay (a later copy or commit of this version writes the same keys); the version does not.
      await this.rollback();
      throw err;
    }
    const infos = stores.map((s) => ({ name: s.name, version, hash: s.hash }));
    for (const name of this.treeless) infos.push({ name, version: 0, hash: new Uint8Array(0) });
    return this.recordCommit(makeCommitInfo(version, infos, Date.now()));
  }

  /**
   * Rebuilds every store at `version` from a snapshot stream (store item, then its nodes in
   * post-order, stores sorted by name) and commits the result. Needs an empty StateCommitment.
   * Progress is checkpointed with every flush; after a crash, calling restore again with the
   * same version and a fresh stream of the same snapshot continues where it stopped
   * (`resumed: true`). Every leaf is still forwarded to `options.leaves`, so StateStorage can
   * resume from its own checkpoint.
   */
  async restore(
    version: number,
    stream: AsyncIterable<SnapshotItem> | Iterable<SnapshotItem>,
    options: RestoreOptions = {},
  ): Promise<CommitInfo & { resumed: boolean }> {
    const { resumed, done, keepNodeKeys } = await this.#beginRestore(version);
    const leaves = options.leaves;
    const finished: string[] = [];
    let current: { name: string; importer: Importer | undefined; skip: number } | undefined;
    let nodes = 0;
    let leafCount = 0;
    let paced = 0;
    const finishCurrent = async (): Promise<void> => {
      if (current?.importer === undefined) return;
      const name = current.name;
      const nextDone = [...done, ...finished, name];
      await current.importer.commit((b) =>
        b.put(this.kv.key(RESTORE_KEY), encodeRestoreState({ version, done: nextDone, keepNodeKeys })),
      );
      finished.push(name);
    };
    try {
      for await (const item of stream) {
        if (item.kind === 'store') {
          checkStoreItem(item.name, current?.name);
          await finishCurrent();
          current = await this.#startStore(item.name, version, resumed ? done : undefined, {
            checkpointKey: this.kv.key(scRestoreStoreKey(item.name)),
            batchBytes: options.batchBytes,
            keepNodeKeys,
          });
          continue;
        }
        if (current === undefined)
          throw new StoreMigrateError('ERR_SNAPSHOT_ORDER', 'an IAVL node arrived before any store item');
        nodes++;
        if (item.height === 0) {
          leafCount++;
          if (leaves)
            await leaves.writeMsg({
              store: current.name,
              key: item.key,
              value: item.value ?? new Uint8Array(0),
            });
        }
        if (current.skip > 0) {
          current.skip--;
        } else {
          const imp = current.importer!;
          imp.add(item);
          if (imp.needsFlush) await imp.flush();
          if (item.height === 0 && ++paced === 64) {
            paced = 0;
            await options.pace?.(64);
          }
        }
        if ((nodes & 0xfff) === 0) {
          options.onProgress?.({ store: current.name, nodes, leaves: leafCount });
          if (options.signal?.aborted) throw options.signal.reason;
        }
      }
      if (
        current !== undefined &&
        current.importer === undefined &&
        current.skip !== Number.POSITIVE_INFINITY
      ) {
        throw new StoreMigrateError('ERR_STREAM_TRUNCATED', `store ${current.name} ended early`);
      }
      await finishCurrent();
      const ci = await this.#commitRestored(version, options.treelessStores ?? [], keepNodeKeys);
      leaves?.close();
      return { ...ci, resumed };
    } catch (err) {
      leaves?.closeWithError(err);
      // Trees stay on disk for a resume; in memory they are not committed.
      this.trees.clear();
      throw err;
    }
  }

  /** Checks that nothing is committed yet and reads (or starts) the restore checkpoint. */
  async #beginRestore(
    version: number,
  ): Promise<{ resumed: boolean; done: Set<string>; keepNodeKeys: boolean }> {
    this.checkWritable();
    if (this.latest !== 0) {
      throw new StoreMigrateError(
        'ERR_VERSION_EXISTS',
        `StateCommitment already holds version ${this.latest}`,
      );
    }
    const progress = await this.#readRestoreState();
    const resumed = progress !== undefined && progress.version === version;
    if (!resumed) {
      // Nothing is committed, so any tree data is debris of another interrupted restore.
      await this.kv.clear(allStoresRange());
      await this.kv.clear({ gte: RESTORE_KEY, lt: V2Keys.scRestoreEnd });
      await this.kv.del(V2Keys.scNodeKeysOfV1);
      await this.kv.put(RESTORE_KEY, encodeRestoreState({ version, done: [], keepNodeKeys: true }));
    }
    // A restore begun before node keys were kept goes on giving new ones: mixing the two
    // schemes in one tree could give two nodes one key.
    const keepNodeKeys = resumed ? progress.keepNodeKeys === true : true;
    return { resumed, done: new Set(resumed ? progress.done : []), keepNodeKeys };
  }

  /**
   * A store's tree and importer as its store item arrives: fresh, resumed from its checkpoint,
   * or (in `done`, finished by an earlier run) skipped entirely.
   */
  async #startStore(
    name: string,
    version: number,
    done: Set<string> | undefined,
    options: ImporterOptions & { checkpointKey: Uint8Array },
  ): Promise<{ name: string; importer: Importer | undefined; skip: number }> {
    const tree = this.newTree(name);
    await tree.loadVersion();
    this.trees.set(name, tree);
    if (done?.has(name)) return { name, importer: undefined, skip: Number.POSITIVE_INFINITY };
    if (tree.version !== 0)
      throw new StoreMigrateError('ERR_VERSION_EXISTS', `store ${name} already has data`);
    const saved = done
      ? await this.kv.db.get(options.checkpointKey, { keyEncoding: 'view', valueEncoding: 'view' })
      : undefined;
    const state = saved === undefined ? undefined : decodeImporterState(saved);
    return {
      name,
      importer: state ? Importer.resume(tree, version, state, options) : new Importer(tree, version, options),
      skip: state?.count ?? 0,
    };
  }

  /** Commits the restored trees (and the source's memory stores) as `version`, in one batch. */
  async #commitRestored(
    version: number,
    treelessStores: string[],
    keepNodeKeys: boolean,
  ): Promise<CommitInfo> {
    const stores = [];
    for (const name of this.storeNames())
      stores.push({ name, version, hash: this.tree(name).getImmutable(version).hash });
    for (const name of treelessStores) {
      this.treeless.add(name);
      stores.push({ name, version: 0, hash: new Uint8Array(0) });
    }
    const ci = makeCommitInfo(version, stores, Date.now());
    const batch = this.kv.batch();
    batch.put(this.kv.key(this.commitInfoKey(version)), encodeCommitInfo(ci));
    batch.put(this.kv.key(this.latestKey()), encodeLatest(version));
    batch.del(this.kv.key(RESTORE_KEY));
    if (keepNodeKeys) batch.put(this.kv.key(V2Keys.scNodeKeysOfV1), encodeLatest(version));
    await batch.write();
    this.latest = version;
    this.lastCommit = ci;
    this.#nodeKeysOfV1 = keepNodeKeys;
    return ci;
  }

  async #readRestoreState(): Promise<RestoreState | undefined> {
    const raw = await this.kv.get(RESTORE_KEY);
    return raw === undefined ? undefined : decodeRestoreState(raw);
  }
}

const RESTORE_KEY = V2Keys.scRestore;
/** A node-key tree's node keys start with 's', and so does a root record that refers to another root. */
const S = 0x73;

interface RestoreState {
  version: number;
  done: string[];
  /** The importers keep the source's node keys (absent in a restore begun by an earlier release). */
  keepNodeKeys?: boolean;
}

function encodeRestoreState(s: RestoreState): Uint8Array {
  return utf8(JSON.stringify(s));
}

/** A store item: a valid name, after the previous store's (stores come sorted and once each). */
function checkStoreItem(name: string, prev: string | undefined): void {
  validateStoreName(name);
  if (prev !== undefined && name <= prev) {
    throw new StoreMigrateError(
      'ERR_SNAPSHOT_ORDER',
      `store ${name} arrives after ${prev}: stores must be sorted and unique`,
    );
  }
}

function decodeRestoreState(raw: Uint8Array): RestoreState {
  try {
    const s = JSON.parse(fromUtf8(raw)) as RestoreState;
    if (!Number.isSafeInteger(s.version) || !Array.isArray(s.done)) throw new Error('bad shape');
    return s;
  } catch (err) {
    throw StoreMigrateError.from(
      err,
      'ERR_CORRUPT_CHECKPOINT',
      'the restore checkpoint of StateCommitment does not decode',
    );
  }
}
