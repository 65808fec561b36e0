import type { LevelDatabase } from '../../db/kv-db.js';
import { KvDb } from '../../db/kv-db.js';
import { fromUtf8, utf8 } from '../../encoding/bytes.js';
import { StoreMigrateError } from '../../errors.js';
import { decodeImporterState, Importer } from '../../iavl/importer.js';
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
    return sc;
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
    const { resumed, done } = await this.#beginRestore(version);
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
        b.put(this.kv.key(RESTORE_KEY), encodeRestoreState({ version, done: nextDone })),
      );
      finished.push(name);
    };
    try {
      for await (const item of stream) {
        if (item.kind === 'store') {
          checkStoreItem(item.name, current?.name);
          await finishCurrent();
          current = await this.#startStore(
            item.name,
            version,
            resumed ? done : undefined,
            options.batchBytes,
          );
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
      const ci = await this.#commitRestored(version, options.treelessStores ?? []);
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
  async #beginRestore(version: number): Promise<{ resumed: boolean; done: Set<string> }> {
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
      await this.kv.put(RESTORE_KEY, encodeRestoreState({ version, done: [] }));
    }
    return { resumed, done: new Set(resumed ? progress.done : []) };
  }

  /**
   * A store's tree and importer as its store item arrives: fresh, resumed from its checkpoint,
   * or (in `done`, finished by an earlier run) skipped entirely.
   */
  async #startStore(
    name: string,
    version: number,
    done: Set<string> | undefined,
    batchBytes: number | undefined,
  ): Promise<{ name: string; importer: Importer | undefined; skip: number }> {
    const tree = this.newTree(name);
    await tree.loadVersion();
    this.trees.set(name, tree);
    if (done?.has(name)) return { name, importer: undefined, skip: Number.POSITIVE_INFINITY };
    if (tree.version !== 0)
      throw new StoreMigrateError('ERR_VERSION_EXISTS', `store ${name} already has data`);
    const checkpointKey = this.kv.key(scRestoreStoreKey(name));
    const saved = done
      ? await this.kv.db.get(checkpointKey, { keyEncoding: 'view', valueEncoding: 'view' })
      : undefined;
    const state = saved === undefined ? undefined : decodeImporterState(saved);
    return {
      name,
      importer: state
        ? Importer.resume(tree, version, state, { checkpointKey, batchBytes })
        : new Importer(tree, version, { checkpointKey, batchBytes }),
      skip: state?.count ?? 0,
    };
  }

  /** Commits the restored trees (and the source's memory stores) as `version`, in one batch. */
  async #commitRestored(version: number, treelessStores: string[]): Promise<CommitInfo> {
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
    await batch.write();
    this.latest = version;
    this.lastCommit = ci;
    return ci;
  }

  async #readRestoreState(): Promise<{ version: number; done: string[] } | undefined> {
    const raw = await this.kv.get(RESTORE_KEY);
    return raw === undefined ? undefined : decodeRestoreState(raw);
  }
}

const RESTORE_KEY = V2Keys.scRestore;

function encodeRestoreState(s: { version: number; done: string[] }): Uint8Array {
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

function decodeRestoreState(raw: Uint8Array): { version: number; done: string[] } {
  try {
    const s = JSON.parse(fromUtf8(raw)) as { version: number; done: string[] };
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
