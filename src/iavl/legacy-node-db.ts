import type { WriteBatch } from '../db/kv-db.js';
import { readU64be, u64be, writeU64be } from '../encoding/byte-writer.js';
import { concatBytes } from '../encoding/bytes.js';
import { StoreMigrateError } from '../errors.js';
import type { Node } from './node.js';
import { decodeLegacyNode, encodeLegacyNode, HASH_SIZE } from './node-codec.js';
import { NodeDb } from './node-db.js';

const N = 0x6e; // 'n' + hash -> node
const O = 0x6f; // 'o' + u64be(to) + u64be(from) + hash -> hash
const R = 0x72; // 'r' + u64be(version) -> root hash (empty: empty tree)

function nodeKey(hash: Uint8Array): Uint8Array {
  const k = new Uint8Array(1 + hash.length);
  k[0] = N;
  k.set(hash, 1);
  return k;
}

function rootKey(version: number): Uint8Array {
  return concatBytes(new Uint8Array([R]), u64be(version));
}

/** The legacy (iavl ≤ 0.20) layout that cosmos-sdk ≤ v0.47 nodes write: nodes keyed by hash. */
export class LegacyNodeDb extends NodeDb {
  readonly layout = 'legacy' as const;

  protected loadNode(hash: Uint8Array, verify: boolean): Node | undefined {
    const raw = this.kv.getSync(nodeKey(hash));
    return raw === undefined ? undefined : this.decode(hash, raw, verify);
  }

  protected storageKey(hash: Uint8Array): Uint8Array {
    return this.kv.batchKey(N, hash);
  }

  protected decodeStored(hash: Uint8Array, raw: Uint8Array, verify: boolean): Node {
    return decodeLegacyNode(hash, raw, verify);
  }

  getRoot(version: number): Node | null {
    const raw = this.kv.getSync(rootKey(version));
    if (raw === undefined) {
      throw new StoreMigrateError('ERR_VERSION_NOT_FOUND', `version ${version} does not exist`, {
        details: { version },
      });
    }
    if (raw.length === 0) return null;
    if (raw.length !== HASH_SIZE) {
      throw new StoreMigrateError(
        'ERR_CORRUPT_NODE',
        `root record of version ${version} is ${raw.length} bytes`,
      );
    }
    return this.getNode(raw);
  }

  hasVersion(version: number): boolean {
    return this.kv.getSync(rootKey(version)) !== undefined;
  }

  async availableVersions(): Promise<number[]> {
    const out: number[] = [];
    for await (const k of this.kv.keys({ gte: new Uint8Array([R]), lt: new Uint8Array([R + 1]) })) {
      if (k.length === 9) out.push(readU64be(k, 1));
    }
    return out;
  }

  saveVersion(
    version: number,
    root: Node | null,
    orphans: Iterable<Node>,
    previous: number,
    batch: WriteBatch,
  ): void {
    // Each new node after its children, whose hashes (their references) it stores.
    const save = (n: Node): void => {
      const hash = this.hashOf(n);
      this.linkChildren(n, save);
      n.ref = hash;
      const raw = encodeLegacyNode(n);
      batch.put(this.kv.batchKey(N, hash), raw);
      this.cacheWritten(hash, raw);
    };
    if (root !== null && root.ref === undefined) save(root);
    // 'o' + u64be(previous) + u64be(node version) + hash: the node lived from its own version
    // to the previous saved one. One scratch body; batchKey copies it for each record.
    const body = new Uint8Array(8 + 8 + HASH_SIZE);
    writeU64be(body, 0, previous);
    for (const o of orphans) {
      writeU64be(body, 8, o.version);
      body.set(o.ref!, 16);
      batch.put(this.kv.batchKey(O, body), o.ref!);
    }
    batch.put(this.kv.key(rootKey(version)), root === null ? new Uint8Array(0) : root.hash!);
  }

  async deleteVersionsTo(version: number): Promise<void> {
    // Roots go first: a crash halfway then leaves unreachable nodes, never a version with holes.
    await this.kv.clear({ gte: new Uint8Array([R]), lt: rootKey(version + 1) });
    // Every orphan record that ends at or before `version` names a node no remaining version reaches.
    let batch = this.kv.batch();
    const to = concatBytes(new Uint8Array([O]), u64be(version + 1));
    for await (const [k, hash] of this.kv.iterate({ gte: new Uint8Array([O]), lt: to })) {
      batch.del(this.kv.key(nodeKey(hash)));
      batch.del(this.kv.key(k));
      if (batch.length >= 20_000) {
        await batch.write();
        batch = this.kv.batch();
      }
    }
    await batch.write();
    this.clearCache();
  }
}
