import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { toHex } from '../../src/encoding/bytes.js';
import { encodeUvarint } from '../../src/encoding/varint.js';
import type { ImmutableTree } from '../../src/iavl/immutable-tree.js';
import type { CommitStore } from '../../src/multistore/commit-store.js';

/** One store of a height, as Go wrote its CommitInfo (interop/go/common/report.go). */
export interface GoStoreReport {
  name: string;
  version: number;
  rootHash: string;
  /** Whether Go still finds the store's tree at this height. */
  tree: boolean;
}

export interface GoHeightReport {
  height: number;
  appHash: string;
  timestamp?: string;
  queryable: boolean;
  stores: GoStoreReport[];
}

/** What `goref apply` writes to expected.json and `goref read` prints. */
export interface GoReport {
  era: string;
  modules: Record<string, string>;
  latestVersion: number;
  queryable: number[];
  heights: GoHeightReport[];
  digests: Record<string, { keys: number; sha256: string }>;
  /** Every store's content digest at every queryable height, keyed by height. */
  contents?: Record<string, Record<string, { keys: number; sha256: string }>>;
}

export function readGoReport(path: string): GoReport {
  return JSON.parse(readFileSync(path, 'utf8')) as GoReport;
}

/** The content digest Go computes: sha256 over `uvarint(len k) k uvarint(len v) v` in key order. */
export function contentDigest(tree: ImmutableTree): { keys: number; sha256: string } {
  const h = createHash('sha256');
  let keys = 0;
  for (const [k, v] of tree.iterate()) {
    h.update(encodeUvarint(k.length)).update(k).update(encodeUvarint(v.length)).update(v);
    keys++;
  }
  return { keys, sha256: h.digest('hex') };
}

/** A memory store of the eras before v0.47: listed in CommitInfo with an empty CommitID, no tree. */
function isMemoryStore(s: GoStoreReport): boolean {
  return s.version === 0 && s.rootHash === '';
}

export interface CompareOptions {
  /** Heights to check (default: every height Go reports as queryable). */
  heights?: number[];
  /** Also check the content digests: at every checked height where Go's report has them, and at the latest (default true). */
  digests?: boolean;
}

/**
 * Checks a store against Go's report: at each height, the app hash, every store's version and
 * root from our CommitInfo and our tree's root hash; then every store's content at the latest
 * height. The first difference throws, naming the height and the store.
 */
export async function compareWithGo(
  store: CommitStore,
  go: GoReport,
  options: CompareOptions = {},
): Promise<void> {
  const heights = options.heights ?? go.queryable;
  const byHeight = new Map(go.heights.map((h) => [h.height, h]));
  for (const height of heights) {
    const want = byHeight.get(height);
    if (want === undefined) throw new Error(`height ${height}: Go's report has no such height`);
    const ci = await store.getCommitInfo(height);
    const ours = new Map(ci.stores.map((s) => [s.name, s]));
    for (const s of want.stores) {
      const got = ours.get(s.name);
      if (got === undefined) throw new Error(`height ${height} store ${s.name}: missing from our CommitInfo`);
      if (got.version !== s.version || toHex(got.hash) !== s.rootHash) {
        throw new Error(
          `height ${height} store ${s.name}: ours is version ${got.version} root ${toHex(got.hash)}, Go's version ${s.version} root ${s.rootHash}`,
        );
      }
      if (s.tree && !isMemoryStore(s)) {
        const root = toHex((await store.immutable(s.name, height)).hash);
        if (root !== s.rootHash) {
          throw new Error(`height ${height} store ${s.name}: our tree's root is ${root}, Go's ${s.rootHash}`);
        }
      }
    }
    if (ours.size !== want.stores.length) {
      const extra = [...ours.keys()].filter((n) => !want.stores.some((s) => s.name === n));
      throw new Error(`height ${height} store ${extra.join(', ')}: in our CommitInfo, not in Go's`);
    }
    if (toHex(ci.appHash) !== want.appHash) {
      throw new Error(`height ${height}: our app hash ${toHex(ci.appHash)}, Go's ${want.appHash}`);
    }
    if (options.digests === false) continue;
    for (const [name, digest] of Object.entries(go.contents?.[height] ?? {})) {
      expectDigest(contentDigest(await store.immutable(name, height)), digest, height, name);
    }
  }
  if (options.digests === false) return;
  for (const [name, want] of Object.entries(go.digests)) {
    expectDigest(contentDigest(await store.immutable(name, go.latestVersion)), want, go.latestVersion, name);
  }
}

type Digest = { keys: number; sha256: string };

export function expectDigest(got: Digest, want: Digest, height: number, store: string): void {
  if (got.keys !== want.keys || got.sha256 !== want.sha256) {
    throw new Error(
      `height ${height} store ${store}: our content has ${got.keys} keys (sha256 ${got.sha256}), Go's ${want.keys} (${want.sha256})`,
    );
  }
}
