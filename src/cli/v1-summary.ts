import { toHex } from '../encoding/bytes.js';
import { StoreMigrateError } from '../errors.js';
import type { TreeLayout } from '../iavl/node-db.js';
import { isTreeless } from '../multistore/commit-info.js';
import type { MultiStoreV1, V1Layout } from '../v1/multi-store-v1.js';
import { formatCount } from './progress-line.js';

export interface V1StoreSummary {
  name: string;
  /** The store's IAVL root hash at `version`, lowercase hex; empty for a store without a tree. */
  rootHash: string;
  version: number;
  /** Live keys in the store at `version` (the root's size). */
  keys: number;
  /**
   * How the store's tree is stored: `legacy` (iavl ≤ 0.20, cosmos-sdk ≤ v0.47), `node-key`
   * (iavl v1, cosmos-sdk v0.50+, legacy subtrees included after an upgrade), or `none` for a
   * memory store that cosmos-sdk before v0.47 listed in the commit info with an empty commit id.
   */
  treeLayout: TreeLayout | 'none';
}

/** What `inspect --json` prints; `generate` and `apply` print it too, at the latest version. */
export interface V1Summary {
  layout: V1Layout;
  latestVersion: number;
  /** Versions that can be read (a commit info and every tree it names), ascending. */
  versions: number[];
  /** Heights with a commit info, including those whose trees pruning deleted. */
  commitInfoHeights: number;
  /** The version the app hash and the stores are taken at. */
  version: number;
  appHash: string;
  stores: V1StoreSummary[];
  /** Live keys over all stores at `version`. */
  keys: number;
}

/** Describes a v1 store at `version` (default: the latest). */
export async function summarizeV1(ms: MultiStoreV1, version?: number): Promise<V1Summary> {
  const versions = await ms.versions();
  if (versions.length === 0) {
    throw new StoreMigrateError('ERR_NOT_A_STORE', 'the database holds no committed version yet');
  }
  const v = version ?? ms.latestVersion;
  const heights = await ms.commitHeights();
  if (!versions.includes(v)) {
    const below = versions.filter((x) => x < v).at(-1);
    const above = versions.find((x) => x > v);
    const pruned = heights.includes(v) || v < versions[0];
    const nearest = [below, above].filter((x) => x !== undefined).join(' and ');
    throw new StoreMigrateError(
      pruned ? 'ERR_VERSION_PRUNED' : 'ERR_VERSION_NOT_FOUND',
      pruned
        ? `version ${v} was pruned${heights.includes(v) ? ': its commit info remains, its trees do not' : ''} (nearest that can be read: ${nearest}; available: ${describeVersions(versions)})`
        : `version ${v} does not exist (available: ${describeVersions(versions)})`,
      { details: { version: v, below, above } },
    );
  }
  const ci = await ms.getCommitInfo(v);
  const stores: V1StoreSummary[] = [];
  for (const s of ci.stores) {
    const treeless = isTreeless(s);
    const tree = treeless ? undefined : await ms.immutable(s.name, v);
    stores.push({
      name: s.name,
      rootHash: toHex(s.hash),
      version: s.version,
      keys: tree?.size ?? 0,
      // Per height: a version from before an upgrade to iavl v1 still has a legacy root.
      treeLayout: tree === undefined ? 'none' : tree.root?.ref?.length === 32 ? 'legacy' : tree.ndb.layout,
    });
  }
  return {
    layout: ms.layout,
    latestVersion: ms.latestVersion,
    versions,
    commitInfoHeights: ms.layout === 'iavl' ? versions.length : heights.length,
    version: v,
    appHash: toHex(ci.appHash),
    stores,
    keys: stores.reduce((sum, s) => sum + s.keys, 0),
  };
}

/** `1..10 (10 versions)`, or the list when it is short or has holes. */
export function describeVersions(versions: number[]): string {
  if (versions.length === 0) return 'none';
  const first = versions[0];
  const last = versions[versions.length - 1];
  if (versions.length > 2 && last - first + 1 === versions.length) {
    return `${first}..${last} (${versions.length} versions)`;
  }
  if (versions.length <= 8) return versions.join(', ');
  return `${versions.slice(0, 3).join(', ')}, ..., ${versions.slice(-3).join(', ')} (${versions.length} versions)`;
}

/** The human form: a header and one table row per store. */
export function formatV1Summary(s: V1Summary, path?: string): string {
  const lines: string[] = [];
  if (path !== undefined) lines.push(`database   ${path}`);
  lines.push(
    `layout     ${s.layout === 'iavl' ? 'iavl (a bare cosmos/iavl tree, no multistore)' : 'rootmulti'}`,
    `versions   ${describeVersions(s.versions)}, latest ${s.latestVersion}${
      s.commitInfoHeights > s.versions.length
        ? ` (${s.commitInfoHeights - s.versions.length} more heights have a commit info but pruned trees)`
        : ''
    }`,
    `version    ${s.version}`,
    `app hash   ${s.appHash}`,
    '',
  );
  const header = ['store', 'version', 'keys', 'layout', 'root hash'];
  const rows = s.stores.map((st) => [
    st.name,
    String(st.version),
    formatCount(st.keys),
    st.treeLayout === 'none' ? 'none (memory store)' : st.treeLayout,
    st.rootHash,
  ]);
  rows.push(['total', '', formatCount(s.keys), '', '']);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) =>
    [r[0].padEnd(widths[0]), r[1].padStart(widths[1]), r[2].padStart(widths[2]), r[3].padEnd(widths[3]), r[4]]
      .join('  ')
      .trimEnd();
  lines.push(fmt(header), ...rows.map(fmt));
  return lines.join('\n');
}
