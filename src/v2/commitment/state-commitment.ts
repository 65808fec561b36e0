import type { LevelDatabase } from '../../db/kv-db.js';
import { KvDb } from '../../db/kv-db.js';
import { utf8 } from '../../encoding/bytes.js';
import { StoreMigrateError } from '../../errors.js';
import { Importer } from '../../iavl/importer.js';
import type { MigrationStream } from '../../migration/migration-stream.js';
import type { SnapshotItem } from '../../snapshots/snapshot-item.js';
import { type CommitInfo, encodeCommitInfo, makeCommitInfo } from '../../v1/commit-info.js';
import { CommitStore, encodeLatest, validateStoreName } from '../../v1/commit-store.js';

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
  /** Called every few thousand nodes with the running counts. */
  onProgress?: (p: { store: string; nodes: number; leaves: number }) => void;
}

/**
 * Store v2 StateCommitment: one IAVL tree per store in the node-key layout (iavl v1), commit
 * info under `c/latest` and `c/<version>` with the same CommitInfo message and app hash as
 * rootmulti, so a migrated height hashes exactly as it did on v1.
 */
export class StateCommitment extends CommitStore {
  private constructor(kv: KvDb, options: StateCommitmentOptions) {
    super(kv, {
      metaPrefix: 'c/',
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
   */
  async restore(
    version: number,
    stream: AsyncIterable<SnapshotItem>,
    options: RestoreOptions = {},
  ): Promise<CommitInfo> {
    this.checkWritable();
    if (this.latest !== 0) {
      throw new StoreMigrateError(
        'ERR_VERSION_EXISTS',
        `StateCommitment already holds version ${this.latest}`,
      );
    }
    // Nothing is committed, so any tree data is debris of an interrupted restore.
    await this.kv.clear({ gte: utf8('s/k:'), lt: utf8('s/k;') });
    const leaves = options.leaves;
    const importers: Array<[string, Importer]> = [];
    let current: [string, Importer] | undefined;
    let nodes = 0;
    let leafCount = 0;
    try {
      for await (const item of stream) {
        if (item.kind === 'store') {
          validateStoreName(item.name);
          const prev = importers.at(-1)?.[0];
          if (prev !== undefined && item.name <= prev) {
            throw new StoreMigrateError(
              'ERR_SNAPSHOT_ORDER',
              `store ${item.name} arrives after ${prev}: stores must be sorted and unique`,
            );
          }
          const tree = this.newTree(item.name);
          await tree.loadVersion();
          if (tree.version !== 0) {
            throw new StoreMigrateError('ERR_VERSION_EXISTS', `store ${item.name} already has data`);
          }
          current = [item.name, new Importer(tree, version)];
          importers.push(current);
          this.trees.set(item.name, tree);
          continue;
        }
        if (current === undefined) {
          throw new StoreMigrateError('ERR_SNAPSHOT_ORDER', 'an IAVL node arrived before any store item');
        }
        const imp = current[1];
        imp.add(item);
        nodes++;
        if (item.height === 0) {
          leafCount++;
          if (leaves)
            await leaves.writeMsg({
              store: current[0],
              key: item.key,
              value: item.value ?? new Uint8Array(0),
            });
        }
        if (imp.needsFlush) await imp.flush();
        if ((nodes & 0xfff) === 0) {
          options.onProgress?.({ store: current[0], nodes, leaves: leafCount });
          if (options.signal?.aborted) throw options.signal.reason;
        }
      }
      const stores = [];
      for (const [name, imp] of importers) {
        const r = await imp.commit();
        stores.push({ name, version: r.version, hash: r.hash });
      }
      const ci = makeCommitInfo(version, stores, Date.now());
      const batch = this.kv.batch();
      batch.put(this.kv.key(this.commitInfoKey(version)), encodeCommitInfo(ci));
      batch.put(this.kv.key(this.latestKey()), encodeLatest(version));
      await batch.write();
      this.latest = version;
      this.lastCommit = ci;
      leaves?.close();
      return ci;
    } catch (err) {
      leaves?.closeWithError(err);
      // Forget half-imported trees; their nodes are unreachable without a commit record.
      for (const [name] of importers) this.trees.delete(name);
      throw err;
    }
  }
}
