import type { CommitmentProof } from '../gen/cosmos/ics23/v1/proofs_pb.js';
import type { Node } from './node.js';
import type { NodeDb } from './node-db.js';
import { EMPTY_HASH } from './node-hash.js';
import { exportChunks, type PrefetchExportOptions } from './prefetch-export.js';
import { commitmentProof } from './proof.js';
import {
  type ExportNode,
  exportNodes,
  getFromNode,
  hasInNode,
  type IterateOptions,
  type IterateRange,
  iterateNodes,
} from './tree-walk.js';

export type { ExportNode, IterateOptions, IterateRange };

/** A read-only view of one saved version. */
export class ImmutableTree {
  readonly ndb: NodeDb;
  readonly root: Node | null;
  readonly version: number;

  constructor(ndb: NodeDb, root: Node | null, version: number) {
    this.ndb = ndb;
    this.root = root;
    this.version = version;
  }

  /** A copy: the node's own may be a view into a shared chunk. */
  get hash(): Uint8Array {
    return this.root === null ? EMPTY_HASH : this.ndb.hashOf(this.root).slice();
  }

  /** Number of keys. */
  get size(): number {
    return this.root === null ? 0 : this.root.size;
  }

  get(key: Uint8Array): Uint8Array | undefined {
    return getFromNode(this.ndb, this.root, key);
  }

  has(key: Uint8Array): boolean {
    return hasInNode(this.ndb, this.root, key);
  }

  /** Key-value pairs within [start, end). */
  *iterate(range: IterateRange = {}, options: IterateOptions = {}): Generator<[Uint8Array, Uint8Array]> {
    for (const n of iterateNodes(this.ndb, this.root, range, options.reverse === true))
      yield [n.key, n.value!];
  }

  /** An ICS23 proof (IAVL spec) of the key's presence or absence. */
  proof(key: Uint8Array): CommitmentProof {
    return commitmentProof(this.ndb, this.root, key);
  }

  /**
   * The tree in post-order, for snapshots and imports. `verify: false` skips the per-node
   * hash check (faster) for consumers that recompute hashes and compare the root.
   */
  export(options: { verify?: boolean } = {}): Generator<ExportNode> {
    return exportNodes(this.ndb, this.root, options.verify ?? true);
  }

  /** The same post-order in chunks, with the node reads done ahead on LevelDB's thread pool. */
  exportChunks(options: PrefetchExportOptions = {}): AsyncGenerator<ExportNode[]> {
    return exportChunks(this.ndb, this.root, options);
  }
}
