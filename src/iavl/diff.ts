import { compareBytes, equalBytes } from '../encoding/bytes.js';
import type { KVPair } from '../encoding/changeset.js';
import type { Node } from './node.js';
import type { NodeDb } from './node-db.js';

/**
 * The changes that turn the tree under `a` into the tree under `b`, in key order: sets for
 * keys added or changed, removes for keys gone. Both trees are walked as in-order frontiers;
 * when the two frontiers hold the same subtree (equal hashes) it is skipped whole, so the
 * cost follows the size of the difference, not of the trees.
 */
export function diffTrees(ndb: NodeDb, a: Node | null, b: Node | null, bNdb: NodeDb = ndb): KVPair[] {
  const out: KVPair[] = [];
  const sa: Node[] = a ? [a] : [];
  const sb: Node[] = b ? [b] : [];
  // Pops the top and pushes its children so the leftmost stays on top.
  const expand = (db: NodeDb, s: Node[]): void => {
    const n = s.pop()!;
    s.push(db.right(n), db.left(n));
  };
  while (sa.length > 0 || sb.length > 0) {
    const ta = sa[sa.length - 1];
    const tb = sb[sb.length - 1];
    if (ta === undefined) {
      if (tb.height > 0) expand(bNdb, sb);
      else out.push({ key: sb.pop()!.key, value: tb.value! });
      continue;
    }
    if (tb === undefined) {
      if (ta.height > 0) expand(ndb, sa);
      else out.push({ key: sa.pop()!.key, remove: true });
      continue;
    }
    if (equalBytes(ndb.hashOf(ta), bNdb.hashOf(tb))) {
      sa.pop();
      sb.pop();
      continue;
    }
    if (ta.height === 0 && tb.height === 0) {
      const c = compareBytes(ta.key, tb.key);
      if (c === 0) {
        sa.pop();
        sb.pop();
        if (!equalBytes(ta.value!, tb.value!)) out.push({ key: tb.key, value: tb.value! });
      } else if (c < 0) {
        sa.pop();
        out.push({ key: ta.key, remove: true });
      } else {
        sb.pop();
        out.push({ key: tb.key, value: tb.value! });
      }
      continue;
    }
    // Open the taller subtree first: shared subtrees then line up at equal heights.
    if (ta.height >= tb.height) expand(ndb, sa);
    else expand(bNdb, sb);
  }
  return out;
}
