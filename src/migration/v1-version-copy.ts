import { u64be } from '../encoding/byte-writer.js';
import { concatBytes, equalBytes, fromHex, toHex } from '../encoding/bytes.js';
import type { Changeset } from '../encoding/changeset.js';
import { isStoreMigrateError, StoreMigrateError } from '../errors.js';
import { decodeNodeKeyNode, nodeKeyBytes } from '../iavl/node-codec.js';
import type { Logger } from '../logger.js';
import { type CommitInfo, isTreeless } from '../multistore/commit-info.js';
import type { CommitStore } from '../multistore/commit-store.js';
import type { CopiedStore, StateCommitment } from '../v2/commitment/state-commitment.js';
import type { HandoffSpill } from './handoff-spill.js';

/** v1's commit info of a version (undefined: none) and each store's entries of it (undefined: pruned). */
type Fetched = [CommitInfo | undefined, ...Array<Array<[Uint8Array, Uint8Array]> | undefined>];

/** Versions read ahead of the sync: about 1 MB each at 1,000 changes per block. */
const READ_AHEAD = 8;

/** Bytes of handed-over v1 writes kept in memory for the sync (about 40 blocks of 1,000 changes). */
const HANDOFF_BYTES = 48 * 1024 * 1024;

/**
 * The puts of v1's batch for one version, as RootStore saw them written (full keys, each
 * store's prefix included): the new nodes the sync would otherwise read back from v1.
 */
export interface V1Writes {
  keys: Uint8Array[];
  values: Uint8Array[];
}

const STORE_PREFIX = [0x73, 0x2f, 0x6b, 0x3a]; // 's/k:', then the store's name and '/'
const SLASH = 0x2f;

const S = 0x73; // a node-key tree's nodes: 's' + u64be(version) + u32be(nonce)
const N = 0x6e; // its legacy nodes: 'n' + hash

/**
 * Takes a synced version's tree nodes from v1 as v1 wrote them, for
 * StateCommitment.commitCopied. A node-key tree keeps the nodes a version created under
 * keys that start with that version, so they are one range read per store, and once the
 * restore kept v1's node keys they need no rebuilding or hashing in v2: the replay of a
 * block costs the tree work of a commit, the copy a read and a write.
 */
export class V1VersionCopy {
  readonly #source: CommitStore;
  readonly #log: Logger;
  /** Stores known to have no legacy nodes (whose hashes a copied node could point at). */
  readonly #nodeKeyOnly = new Map<string, boolean>();
  /** Versions being read ahead of the sync, in order. */
  readonly #ahead = new Map<number, Promise<Fetched>>();
  /** Each store's nodes of a version, as v1's commit wrote them (offer()). */
  readonly #handed = new Map<
    number,
    { stores: Map<string, Array<[Uint8Array, Uint8Array]>>; bytes: number }
  >();
  #handedBytes = 0;
  #handedUsed = 0;
  /** Versions fetched whole from what v1's commits handed over. */
  readonly #handedVersions = new Set<number>();
  /** Where handed-over versions over the memory budget go (none: they are read from v1). */
  readonly #spill: HandoffSpill | undefined;
  readonly #handoffBytes: number;

  /**
   * @example
   * const copy = new V1VersionCopy(v1, log);
   * const stores = await copy.read(101, sc, changeset); // undefined: replay this version
   */
  constructor(
    source: CommitStore,
    log: Logger,
    options: { spill?: HandoffSpill; handoffBytes?: number } = {},
  ) {
    this.#source = source;
    this.#log = log;
    this.#spill = options.spill;
    this.#handoffBytes = options.handoffBytes ?? HANDOFF_BYTES;
  }

  /**
   * v1's nodes of `version` in every store, checked against the buffered changeset; or
   * undefined when the version cannot be copied (the trees were not restored with v1's node
   * keys, a store is legacy or has legacy nodes, v1 no longer holds the version): then it is
   * replayed. A changeset that does not match v1's leaves is ERR_HASH_MISMATCH, as its replay
   * would be.
   */
  async read(version: number, sc: StateCommitment, cs: Changeset): Promise<CopiedStore[] | undefined> {
    try {
      return await this.#read(version, sc, cs);
    } finally {
      this.#dropHanded(version); // whether copied or replayed, nothing asks for it again
    }
  }

  async #read(version: number, sc: StateCommitment, cs: Changeset): Promise<CopiedStore[] | undefined> {
    if (!sc.nodeKeysOfV1) return undefined;
    const names = sc.storeNames();
    for (const name of names) {
      if (!(await this.#copyable(name))) return this.#skip(version, `store ${name} is not node-key only`);
    }
    const ahead = this.#ahead.get(version);
    // Reads of versions before this one will never be asked for.
    for (const v of this.#ahead.keys()) if (v <= version) this.#ahead.delete(v);
    const [ci, ...read] = await (ahead ?? this.#fetch(version, names));
    if (this.#handedVersions.delete(version)) this.#handedUsed++;
    if (ci === undefined) return this.#skip(version, 'v1 holds no commit info for it');
    const treeless = ci.stores
      .filter(isTreeless)
      .map((s) => s.name)
      .sort();
    const hashes = new Map(ci.stores.filter((s) => !isTreeless(s)).map((s) => [s.name, s.hash]));
    if (
      hashes.size !== names.length ||
      names.some((n) => !hashes.has(n)) ||
      treeless.join('/') !== sc.treelessStoreNames().join('/')
    ) {
      return this.#skip(version, 'v1 commits other stores than StateCommitment holds');
    }
    if (read.includes(undefined)) return this.#skip(version, 'v1 pruned it');
    const out = (read as Array<Array<[Uint8Array, Uint8Array]>>).map((entries, i) => ({
      name: names[i],
      entries,
      hash: hashes.get(names[i])!,
    }));
    checkLeaves(version, out, cs);
    return out;
  }

  /**
   * Takes the nodes v1 just wrote for `version` (its commit's puts), so that the sync need not
   * read them back: on the migration worker that read is a round trip through the node
   * thread, whose LevelDB iterator makes an object per node there. Kept up to HANDOFF_BYTES;
   * a version not kept is read from v1 as before.
   * @example
   * copy.offer(102, { keys, values }); // RootStore saw v1's batch of version 102
   */
  offer(version: number, writes: V1Writes): void {
    const split = splitByStore(version, writes);
    if (split.bytes === 0) return;
    if (this.#handedBytes + split.bytes > this.#handoffBytes) {
      // Over the memory budget (the restore's backlog): on file, read back on this thread.
      this.#spill?.put(version, writes);
      return;
    }
    this.#handed.set(version, split);
    this.#handedBytes += split.bytes;
  }

  /** Versions whose nodes came from v1's commits (offer()) rather than reads of v1. */
  get handedOver(): number {
    return this.#handedUsed;
  }

  #dropHanded(upTo: number): void {
    for (const [v, h] of this.#handed) {
      if (v > upTo) continue;
      this.#handed.delete(v);
      this.#handedBytes -= h.bytes;
    }
    this.#spill?.dropTo(upTo).catch((err: unknown) => {
      this.#log.warn({ err }, 'could not delete a handoff spill file');
    });
  }

  /**
   * Starts reading versions `from`..`to` from v1 before read() asks for them (at most
   * READ_AHEAD at a time), so that the reads overlap the work on the versions before. On the
   * migration worker each read is a round trip through the node thread, which answers only
   * between its own commits: one version at a time, that wait would set the pace. Only for
   * versions v1 has committed.
   * @example
   * copy.prefetch(102, 109, sc); // while version 101 is copied
   */
  prefetch(from: number, to: number, sc: StateCommitment): void {
    if (!sc.nodeKeysOfV1) return;
    const names = sc.storeNames();
    if (names.some((n) => this.#nodeKeyOnly.get(n) !== true)) return;
    for (let v = from; v <= Math.min(to, from + READ_AHEAD - 1); v++) {
      if (this.#ahead.has(v)) continue;
      const reading = this.#fetch(v, names);
      // Observed by read(); a version never read (the sync stopped) must not count as unhandled.
      reading.catch(() => {});
      this.#ahead.set(v, reading);
    }
  }

  /**
   * The commit info and every store's nodes in one go: on the worker, the round trips run
   * side by side. A store's nodes come from v1's commit where it handed them over (kept, or
   * spilled to file), else from v1.
   */
  async #fetch(version: number, names: string[]): Promise<Fetched> {
    let handed = this.#handed.get(version)?.stores;
    if (handed === undefined && this.#spill !== undefined) {
      const spilled = await this.#spill.take(version);
      if (spilled !== undefined) handed = splitByStore(version, spilled).stores;
    }
    // A store's handed-over nodes count only whole (its root record among them).
    const whole = names.map((name) => {
      const entries = handed?.get(name);
      return entries !== undefined && hasRootRecord(entries, version) ? entries : undefined;
    });
    if (whole.every((w) => w !== undefined)) this.#handedVersions.add(version);
    return Promise.all([
      this.#source.getCommitInfo(version).catch((err: unknown) => {
        if (
          isStoreMigrateError(err, 'ERR_VERSION_NOT_FOUND') ||
          isStoreMigrateError(err, 'ERR_VERSION_PRUNED')
        )
          return undefined;
        throw err;
      }),
      ...names.map((name, i) => whole[i] ?? this.#readStore(name, version)),
    ]);
  }

  /** Removed keys leave no node to compare: after the copy, each must be gone from its tree. */
  static checkRemovals(version: number, sc: StateCommitment, cs: Changeset): void {
    for (const [store, m] of finalChanges(cs)) {
      const tree = sc.tree(store);
      for (const [hex, value] of m) {
        if (value === undefined && tree.has(fromHex(hex))) {
          throw mismatch(version, `it removes ${hex} from ${store}, which v1 kept`);
        }
      }
    }
  }

  #skip(version: number, why: string): undefined {
    this.#log.debug({ version, why }, 'replaying a version instead of copying it from v1');
    return undefined;
  }

  async #copyable(name: string): Promise<boolean> {
    let ok = this.#nodeKeyOnly.get(name);
    if (ok === undefined) {
      const tree = this.#source.tree(name);
      ok = tree.layout === 'node-key';
      // v1 writes no legacy node after its move to iavl v1, so a store without any stays so.
      if (ok)
        for await (const _ of tree.kv.keys({
          gte: new Uint8Array([N]),
          lt: new Uint8Array([N + 1]),
          limit: 1,
        }))
          ok = false;
      this.#nodeKeyOnly.set(name, ok);
    }
    return ok;
  }

  async #readStore(name: string, version: number): Promise<Array<[Uint8Array, Uint8Array]> | undefined> {
    const kv = this.#source.tree(name).kv;
    const entries = await kv.entries({
      gte: concatBytes(new Uint8Array([S]), u64be(version)),
      lt: concatBytes(new Uint8Array([S]), u64be(version + 1)),
    });
    return hasRootRecord(entries, version) ? entries : undefined;
  }
}

/** Each store's node-key nodes of `version` among v1's batch puts (views), and their bytes. */
function splitByStore(
  version: number,
  writes: V1Writes,
): { stores: Map<string, Array<[Uint8Array, Uint8Array]>>; bytes: number } {
  const stores = new Map<string, Array<[Uint8Array, Uint8Array]>>();
  let bytes = 0;
  let name = '';
  let prefix: Uint8Array | undefined;
  for (let i = 0; i < writes.keys.length; i++) {
    const k = writes.keys[i];
    if (prefix === undefined || !startsWith(k, prefix)) {
      prefix = storePrefixOf(k);
      if (prefix === undefined) continue; // the commit info and latest: not a store's
      name = Buffer.from(prefix.buffer, prefix.byteOffset + 4, prefix.length - 5).toString('latin1');
    }
    const rel = k.subarray(prefix.length);
    // Only this version's node-key nodes (and root record): 's' + u64be(version) + u32be(nonce).
    if (rel.length !== 13 || rel[0] !== S || readVersion(rel) !== version) continue;
    let list = stores.get(name);
    if (list === undefined) {
      list = [];
      stores.set(name, list);
    }
    list.push([rel, writes.values[i]]);
    bytes += rel.length + writes.values[i].length;
  }
  return { stores, bytes };
}

/**
 * Whether a version's nodes include its root record. One batch writes a version's nodes and
 * its root record, and pruning deletes the record with the nodes: a record among them (read
 * in one snapshot, or handed over from the one batch) means the nodes are all here.
 */
function hasRootRecord(entries: Array<[Uint8Array, Uint8Array]>, version: number): boolean {
  const rootKey = concatBytes(new Uint8Array([S]), nodeKeyBytes(version, 1));
  return entries.some(([k]) => equalBytes(k, rootKey));
}

/** Every leaf v1 wrote at `version` is a set of the changeset, and every set a leaf. */
function checkLeaves(version: number, stores: CopiedStore[], cs: Changeset): void {
  const sets = finalChanges(cs);
  for (const s of stores) {
    const want = sets.get(s.name) ?? new Map<string, Uint8Array | undefined>();
    let leaves = 0;
    for (const [k, raw] of s.entries) {
      // zigzag(height) leads a node's bytes: 0 is a leaf (a root reference starts with 's').
      if (raw.length === 0 || raw[0] !== 0) continue;
      const leaf = decodeNodeKeyNode(k.subarray(1), raw);
      const value = want.get(toHex(leaf.key));
      if (value === undefined || !equalBytes(value, leaf.value!)) {
        throw mismatch(
          version,
          `v1 wrote ${toHex(leaf.key)} in ${s.name}, and the changeset does not set it so`,
        );
      }
      leaves++;
    }
    let setCount = 0;
    for (const v of want.values()) if (v !== undefined) setCount++;
    if (leaves !== setCount) {
      throw mismatch(version, `it sets ${setCount} keys in ${s.name}, and v1 wrote ${leaves}`);
    }
  }
}

/** Each store's keys (hex) and what the changeset leaves them: a value, or undefined when removed. A later change to a key wins. */
function finalChanges(cs: Changeset): Map<string, Map<string, Uint8Array | undefined>> {
  const out = new Map<string, Map<string, Uint8Array | undefined>>();
  for (const c of cs.changes) {
    let m = out.get(c.store);
    if (m === undefined) {
      m = new Map();
      out.set(c.store, m);
    }
    for (const p of c.pairs) m.set(toHex(p.key), p.remove ? undefined : p.value);
  }
  return out;
}

function mismatch(version: number, why: string): StoreMigrateError {
  return new StoreMigrateError(
    'ERR_HASH_MISMATCH',
    `buffered changeset ${version} is not what v1 committed: ${why}`,
    { details: { version } },
  );
}

function startsWith(k: Uint8Array, prefix: Uint8Array): boolean {
  if (k.length < prefix.length) return false;
  for (let i = prefix.length - 1; i >= 0; i--) if (k[i] !== prefix[i]) return false;
  return true;
}

/** `s/k:<name>/` at the start of `k` (a view), or undefined when `k` is no store's key. */
function storePrefixOf(k: Uint8Array): Uint8Array | undefined {
  for (let i = 0; i < STORE_PREFIX.length; i++) if (k[i] !== STORE_PREFIX[i]) return undefined;
  const end = k.indexOf(SLASH, STORE_PREFIX.length);
  return end < 0 ? undefined : k.subarray(0, end + 1);
}

function readVersion(rel: Uint8Array): number {
  let v = 0;
  for (let i = 1; i < 9; i++) v = v * 256 + rel[i];
  return v;
}
