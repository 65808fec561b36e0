import type { WriteBatch } from '../db/kv-db.js';
import { readU32be, readU64be, writeU64be } from '../encoding/byte-writer.js';
import { concatBytes, toHex } from '../encoding/bytes.js';
import { StoreMigrateError } from '../errors.js';
import type { Node } from './node.js';
import { refKey } from './node-cache.js';
import {
  decodeLegacyNode,
  decodeNodeKeyNode,
  encodeNodeKeyNode,
  HASH_SIZE,
  NODE_KEY_SIZE,
  nodeKeyBytes,
  nodeRef,
} from './node-codec.js';
import { NodeDb } from './node-db.js';

const S = 0x73; // 's' + u64be(version) + u32be(nonce) -> node, or a root record at nonce 1
const N = 0x6e; // legacy nodes a node-key tree may still point at
const R = 0x72; // legacy roots ('r' + u64be(version)) of the versions before an upgrade to iavl v1
/** A root reference of the retracted iavl v1.0.0–v1.1.0 form: 's' + u64be(version), nonce 1 implied. */
const SHORT_REF_SIZE = 1 + 8;

function sKey(ref: Uint8Array): Uint8Array {
  const k = new Uint8Array(1 + ref.length);
  k[0] = S;
  k.set(ref, 1);
  return k;
}

function rootRef(version: number): Uint8Array {
  return nodeKeyBytes(version, 1);
}

function legacyRootKey(version: number): Uint8Array {
  const k = new Uint8Array(9);
  k[0] = R;
  writeU64be(k, 1, version);
  return k;
}

/**
 * The node-key layout of iavl v1 (store v2 StateCommitment, and store v1 from cosmos-sdk v0.50):
 * nodes keyed by the version that created them and a nonce. The root of version v sits at
 * nonce 1, or v's record there refers to an older root when nothing changed (13 bytes,
 * 's' + key; or 9 bytes, 's' + version, as iavl v1.0.0–v1.1.0 wrote it); an empty value is an
 * empty tree. A tree that iavl v1 continued from iavl 0.20 also holds legacy nodes ('n' +
 * hash, reached through inner nodes' mode bits) and the legacy roots ('r') of the versions
 * before the upgrade.
 */
export class NodeKeyNodeDb extends NodeDb {
  readonly layout = 'node-key' as const;

  protected loadNode(ref: Uint8Array, verify: boolean): Node | undefined {
    if (ref.length === HASH_SIZE) {
      const raw = this.kv.getSync(concatBytes(new Uint8Array([N]), ref));
      return raw === undefined ? undefined : this.decode(ref, raw, verify);
    }
    let raw = this.kv.getSync(sKey(ref));
    let key = ref;
    if (raw === undefined && readU32be(ref, 8) === 1) {
      // Pruning moves a root that a later version still uses from nonce 1 to nonce 0.
      key = nodeKeyBytes(readU64be(ref, 0), 0);
      raw = this.kv.getSync(sKey(key));
    }
    if (raw === undefined) return undefined;
    return this.decode(key, raw, verify);
  }

  protected storageKey(ref: Uint8Array): Uint8Array {
    return this.kv.batchKey(ref.length === HASH_SIZE ? N : S, ref);
  }

  protected decodeStored(ref: Uint8Array, raw: Uint8Array, verify: boolean): Node {
    return ref.length === HASH_SIZE ? decodeLegacyNode(ref, raw, verify) : decodeNodeKeyNode(ref, raw);
  }

  /** Resolves a version's root record to a node reference (null: empty tree). */
  #rootRefOf(version: number): Uint8Array | null {
    const raw = this.kv.getSync(sKey(rootRef(version)));
    if (raw === undefined) {
      // A version saved before the tree moved to iavl v1 keeps its legacy root.
      const legacy = this.kv.getSync(legacyRootKey(version));
      if (legacy === undefined) {
        throw new StoreMigrateError('ERR_VERSION_NOT_FOUND', `version ${version} does not exist`, {
          details: { version },
        });
      }
      if (legacy.length === 0) return null;
      if (legacy.length !== HASH_SIZE) {
        throw new StoreMigrateError(
          'ERR_CORRUPT_NODE',
          `legacy root record of version ${version} is ${legacy.length} bytes`,
          {
            details: { version },
          },
        );
      }
      return legacy;
    }
    if (raw.length === 0) return null;
    // Node bodies start with zigzag(height), which is even, so never with 's'.
    if (raw[0] !== S) return rootRef(version);
    if (raw.length === 1 + NODE_KEY_SIZE) return raw.subarray(1);
    if (raw.length === SHORT_REF_SIZE) return nodeKeyBytes(readU64be(raw, 1), 1);
    throw new StoreMigrateError(
      'ERR_CORRUPT_NODE',
      `root reference of version ${version} is ${raw.length} bytes (${toHex(raw)}); a reference has 9 or 13`,
      { details: { version } },
    );
  }

  getRoot(version: number): Node | null {
    const ref = this.#rootRefOf(version);
    return ref === null ? null : this.getNode(ref);
  }

  hasVersion(version: number): boolean {
    return this.#hasNodeKeyRoot(version) || this.kv.getSync(legacyRootKey(version)) !== undefined;
  }

  #hasNodeKeyRoot(version: number): boolean {
    return this.kv.getSync(sKey(rootRef(version))) !== undefined;
  }

  /** Versions saved in the legacy layout, before the tree moved to iavl v1 (ascending). */
  async #legacyVersions(): Promise<number[]> {
    const out: number[] = [];
    for await (const k of this.kv.keys({ gte: new Uint8Array([R]), lt: new Uint8Array([R + 1]) })) {
      if (k.length === 9) out.push(readU64be(k, 1));
    }
    return out;
  }

  async latestVersion(): Promise<number> {
    for await (const k of this.kv.keys({
      gte: new Uint8Array([S]),
      lt: new Uint8Array([S + 1]),
      reverse: true,
      limit: 1,
    })) {
      return readU64be(k, 1);
    }
    return 0;
  }

  async availableVersions(): Promise<number[]> {
    const legacy = await this.#legacyVersions();
    const latest = await this.latestVersion();
    if (latest === 0 || !this.#hasNodeKeyRoot(latest)) return legacy;
    // Node-key versions are contiguous from the first unpruned one (a store an upgrade added
    // starts at the upgrade height); find it by binary search above the legacy ones.
    let lo = (legacy.at(-1) ?? 0) + 1;
    let hi = latest;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.#hasNodeKeyRoot(mid)) hi = mid;
      else lo = mid + 1;
    }
    const out = legacy;
    for (let v = lo; v <= latest; v++) out.push(v);
    return out;
  }

  saveVersion(
    version: number,
    root: Node | null,
    _orphans: Iterable<Node>,
    _previous: number,
    batch: WriteBatch,
  ): void {
    const rootKey = this.kv.key(sKey(rootRef(version)));
    if (root === null) {
      batch.put(rootKey, new Uint8Array(0));
      return;
    }
    if (root.ref !== undefined) {
      if (root.ref.length !== HASH_SIZE) {
        batch.put(rootKey, sKey(root.ref));
        return;
      }
      // An unchanged legacy root: as iavl v1, save it again in this layout at (its version,
      // nonce 0), its children still legacy hashes, and refer to it there.
      const moved = nodeKeyBytes(root.version, 0);
      batch.put(this.kv.key(sKey(moved)), encodeNodeKeyNode(root));
      batch.put(rootKey, sKey(moved));
      return;
    }
    // One walk: nonces in pre-order, root first, as iavl v1 assigns them; each node written
    // after its children, whose references it stores. Hashes are known (stageVersion took
    // the working hash first), so nothing here reads the database or can fail halfway.
    let nonce = 0;
    const save = (n: Node): void => {
      n.ref = nodeRef(version, ++nonce);
      this.linkChildren(n, save);
      this.hashOf(n);
      const raw = encodeNodeKeyNode(n);
      batch.put(this.kv.batchKey(S, n.ref), raw);
      this.cacheWritten(n.ref, raw);
    };
    save(root);
  }

  async deleteVersionsTo(version: number): Promise<void> {
    const versions = await this.availableVersions();
    const latest = versions.at(-1) ?? 0;
    if (version >= latest) {
      throw new StoreMigrateError(
        'ERR_VERSION_NOT_FOUND',
        `cannot delete up to ${version}: latest is ${latest}`,
      );
    }
    for (const v of versions) {
      if (v > version) break;
      await this.#deleteVersion(v);
    }
    this.clearCache();
  }

  /** Deletes version v: the nodes v reaches and v + 1 does not, and v's root record. */
  async #deleteVersion(v: number): Promise<void> {
    const next = this.getRoot(v + 1);
    // Nodes of v + 1 created at or before v are shared with v; mark them without descending.
    const shared = new Set<string>();
    if (next !== null) {
      const stack: Node[] = [next];
      while (stack.length > 0) {
        const n = stack.pop()!;
        if (n.version <= v) {
          shared.add(refKey(n.ref!));
          continue;
        }
        if (n.height > 0) stack.push(this.getNode(n.leftRef!), this.getNode(n.rightRef!));
      }
    }
    const batch = this.kv.batch();
    const rootRecord = this.kv.getSync(sKey(rootRef(v)));
    const current = this.getRoot(v);
    for (const n of this.unreachableFrom(current, shared)) {
      const ref = n.ref!;
      batch.del(this.kv.key(ref.length === HASH_SIZE ? concatBytes(new Uint8Array([N]), ref) : sKey(ref)));
    }
    const ownRootNode = rootRecord !== undefined && rootRecord.length > 0 && rootRecord[0] !== S;
    if (ownRootNode && current !== null && shared.has(refKey(current.ref!))) {
      // v's root lives on in v + 1: keep its body, moved to nonce 0 so v no longer looks saved.
      batch.put(this.kv.key(sKey(nodeKeyBytes(v, 0))), rootRecord);
    }
    batch.del(this.kv.key(sKey(rootRef(v))));
    await batch.write();
  }
}
