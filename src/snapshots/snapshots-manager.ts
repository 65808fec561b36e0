import { StoreMigrateError } from '../errors.js';
import { type Logger, silentLogger } from '../logger.js';
import type { CommitStore } from '../multistore/commit-store.js';
import type { MigrationStream } from '../stream/migration-stream.js';
import type { SnapshotItem } from './snapshot-item.js';

export interface ExportStats {
  height: number;
  stores: Array<{ name: string; leaves: number; nodes: number }>;
  leaves: number;
  nodes: number;
}

export interface CreateMigrationOptions {
  signal?: AbortSignal;
  /** Called before each store's nodes, with the store's leaf count. */
  onStore?: (name: string, leaves: number) => void;
  /**
   * Called after every batch of leaves with the leaves and bytes since the last call; the
   * export waits for it, which is how throttling and pausing reach the bulk loop.
   */
  pace?: (leaves: number, bytes: number) => Promise<void> | void;
  /**
   * Check every node's hash as it is read (default true). A consumer that rebuilds the
   * trees and compares the roots with v1's commit info may turn it off for speed.
   */
  verifyNodes?: boolean;
}

const PACE_EVERY = 64;

/**
 * Produces snapshot item streams from store v1, after cosmos store/v2's snapshots manager.
 * A migration export holds the manager: while it runs, other snapshot operations are refused.
 */
export class SnapshotsManager {
  readonly #source: CommitStore;
  readonly #log: Logger;
  #migrating = false;
  #target: CommitStore | undefined;

  constructor(source: CommitStore, options: { logger?: Logger } = {}) {
    this.#source = source;
    this.#log = (options.logger ?? silentLogger).child({ component: 'snapshots' });
  }

  /** The store snapshots are taken from (store v1). */
  get source(): CommitStore {
    return this.#source;
  }

  get migrating(): boolean {
    return this.#migrating;
  }

  /** The store that serves snapshots after a migration ended (the new StateCommitment), if any. */
  get target(): CommitStore | undefined {
    return this.#target;
  }

  #begin(): void {
    if (this.#migrating) {
      throw new StoreMigrateError('ERR_SNAPSHOT_IN_PROGRESS', 'a migration snapshot is already in progress');
    }
  }

  /** Leaf counts per store at `height` (from the roots, without walking the trees). */
  async leafCounts(height: number): Promise<Array<{ name: string; leaves: number }>> {
    const out = [];
    for (const name of this.#source.storeNames()) {
      out.push({ name, leaves: (await this.#source.immutable(name, height)).size });
    }
    return out;
  }

  /**
   * Exports every store at `height` into `stream`: stores sorted by name, each a store item
   * followed by its nodes in post-order. The stream is closed at the end, or closed with the
   * error, so the reader never mistakes a failure for the end.
   */
  async createMigration(
    height: number,
    stream: MigrationStream<SnapshotItem>,
    options: CreateMigrationOptions = {},
  ): Promise<ExportStats> {
    this.#begin();
    this.#migrating = true;
    const stats: ExportStats = { height, stores: [], leaves: 0, nodes: 0 };
    let current: string | undefined;
    try {
      await this.#source.getCommitInfo(height);
      for (const name of this.#source.storeNames()) {
        current = name;
        const tree = await this.#source.immutable(name, height);
        options.onStore?.(name, tree.size);
        await stream.writeMsg({ kind: 'store', name });
        const s = { name, leaves: 0, nodes: 0 };
        let paceLeaves = 0;
        let paceBytes = 0;
        // Reads run ahead on LevelDB's thread pool while this thread feeds the stream.
        for await (const chunk of tree.exportChunks({ verify: options.verifyNodes ?? true }))
          for (const n of chunk) {
            await stream.writeMsg({
              kind: 'iavl',
              key: n.key,
              value: n.value,
              version: n.version,
              height: n.height,
              ref: n.ref,
            });
            s.nodes++;
            if (n.height === 0) {
              s.leaves++;
              paceLeaves++;
              paceBytes += n.key.length + (n.value?.length ?? 0);
              if (paceLeaves === PACE_EVERY) {
                await options.pace?.(paceLeaves, paceBytes);
                paceLeaves = 0;
                paceBytes = 0;
              }
            }
            if ((s.nodes & 0x3ff) === 0) {
              if (options.signal?.aborted) throw options.signal.reason;
              // The stream's queue resolves as microtasks: yield to the
              // event loop now and then, so the node's own commits and RPC are never starved.
              await new Promise((resolve) => setImmediate(resolve));
            }
          }
        if (paceLeaves > 0) await options.pace?.(paceLeaves, paceBytes);
        stats.stores.push(s);
        stats.leaves += s.leaves;
        stats.nodes += s.nodes;
      }
      stream.close();
      this.#log.info({ height, leaves: stats.leaves, nodes: stats.nodes }, 'migration export done');
      return stats;
    } catch (caught) {
      // v1's own errors (a missing or corrupt node) say which store and height they were in.
      const err =
        caught instanceof StoreMigrateError && caught.code !== 'ERR_STREAM_CLOSED' && current !== undefined
          ? StoreMigrateError.wrap(caught, `exporting store ${current} of v1 at height ${height}`, {
              store: current,
              height,
            })
          : caught;
      stream.closeWithError(err);
      this.#log.warn({ height, err }, 'migration export failed');
      throw err;
    } finally {
      this.#migrating = false;
    }
  }

  /** Ends the migration: snapshots are served from `sc` from now on. */
  endMigration(sc?: CommitStore): void {
    this.#begin();
    this.#target = sc;
  }

  /**
   * A state-sync style export of the serving store at `height`, item by item. Refused while a
   * migration export runs, as the two would contend for the same trees.
   */
  async *exportItems(height: number): AsyncGenerator<SnapshotItem> {
    this.#begin();
    const store = this.#target ?? this.#source;
    await store.getCommitInfo(height);
    for (const name of store.storeNames()) {
      yield { kind: 'store', name };
      for (const n of (await store.immutable(name, height)).export()) {
        yield { kind: 'iavl', key: n.key, value: n.value, version: n.version, height: n.height };
      }
    }
  }
}
