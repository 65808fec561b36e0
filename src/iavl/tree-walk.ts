import { compareBytes } from '../encoding/bytes.js';
import type { Node } from './node.js';
import { NODE_KEY_SIZE } from './node-codec.js';
import type { NodeDb } from './node-db.js';

export interface IterateRange {
  /** Inclusive lower bound. */
  start?: Uint8Array;
  /** Exclusive upper bound. */
  end?: Uint8Array;
}

export interface IterateOptions {
  reverse?: boolean;
}

/** One node of a post-order export, as cosmos/iavl's ExportNode (value only for leaves). */
export interface ExportNode {
  key: Uint8Array;
  value: Uint8Array | undefined;
  version: number;
  height: number;
  /**
   * Where a node-key tree keeps this node (12 bytes): an importer may keep it, so that the
   * copy's later versions can be taken from the source node for node (see Importer's
   * `keepNodeKeys`). Absent for legacy nodes. Not part of the snapshot wire format.
   */
  ref?: Uint8Array;
}

/** Looks a key up in an in-memory/persisted node tree. */
export function getFromNode(ndb: NodeDb, root: Node | null, key: Uint8Array): Uint8Array | undefined {
  let n = root;
  while (n !== null) {
    if (n.height === 0) return compareBytes(n.key, key) === 0 ? n.value : undefined;
    // An inner node's key is the smallest key of its right subtree.
    n = compareBytes(key, n.key) < 0 ? ndb.left(n) : ndb.right(n);
  }
  return undefined;
}

/**
 * Whether a key is in the tree, reading no leaf where the inner nodes tell: an inner node's
 * key is the smallest key of its right subtree, so every key but the tree's smallest is some
 * inner node's on its path. Only a path that went left all the way ends at a leaf that must
 * be read. The sync checks each removed key this way, and leaves were most of its reads.
 */
export function hasInNode(ndb: NodeDb, root: Node | null, key: Uint8Array): boolean {
  let n = root;
  let allLeft = true;
  while (n !== null) {
    if (n.height === 0) return allLeft && compareBytes(n.key, key) === 0;
    const c = compareBytes(key, n.key);
    if (c === 0) return true;
    if (c < 0) n = ndb.left(n);
    else {
      allLeft = false;
      n = ndb.right(n);
    }
  }
  return false;
}

/** In-order leaves within [start, end), ascending or descending, loading only the subtrees that overlap. */
export function* iterateNodes(
  ndb: NodeDb,
  root: Node | null,
  range: IterateRange = {},
  reverse = false,
): Generator<Node> {
  if (root === null) return;
  const { start, end } = range;
  const stack: Node[] = [];
  let n: Node | undefined = root;
  for (;;) {
    // Descend to the first leaf in iteration order, remembering where to resume.
    while (n !== undefined && n.height > 0) {
      if (!reverse) {
        if (start !== undefined && compareBytes(start, n.key) >= 0) n = ndb.right(n);
        else {
          stack.push(n);
          n = ndb.left(n);
        }
      } else if (end !== undefined && compareBytes(n.key, end) >= 0) {
        n = ndb.left(n);
      } else {
        stack.push(n);
        n = ndb.right(n);
      }
    }
    if (n !== undefined) {
      const afterStart = start === undefined || compareBytes(n.key, start) >= 0;
      const beforeEnd = end === undefined || compareBytes(n.key, end) < 0;
      if (afterStart && beforeEnd) yield n;
      else if (!reverse ? !beforeEnd : !afterStart) return;
    }
    const p = stack.pop();
    if (p === undefined) return;
    if (!reverse) {
      if (end !== undefined && compareBytes(p.key, end) >= 0) return;
      n = ndb.right(p);
    } else {
      if (start !== undefined && compareBytes(p.key, start) <= 0) return;
      n = ndb.left(p);
    }
  }
}

/** All nodes under `root` in depth-first post-order (left, right, node), as export writes them. */
export function* exportNodes(ndb: NodeDb, root: Node | null, verify = true): Generator<ExportNode> {
  if (root === null) return;
  // Unverified, a one-pass walk skips the per-node hash check and the cache: for a
  // consumer that recomputes every hash and compares the root (the importer, a restore).
  const read = (ref: Uint8Array): Node => (verify ? ndb.getNode(ref) : ndb.peekNode(ref));
  for (const n of postOrder(root, read)) yield toExportNode(n);
}

/** Post-order over the nodes under `root`: children in memory as they are, the others through `resolve`. */
export function* postOrder(root: Node, resolve: (ref: Uint8Array) => Node): Generator<Node> {
  const child = (n: Node, left: boolean): Node =>
    (left ? n.left : n.right) ?? resolve(left ? n.leftRef! : n.rightRef!);
  // Each frame: the node and whether its children were already pushed.
  const stack: Array<[Node, boolean]> = [[root, false]];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const n = top[0];
    if (n.height === 0 || top[1]) {
      stack.pop();
      yield n;
      continue;
    }
    top[1] = true;
    stack.push([child(n, false), false], [child(n, true), false]);
  }
}

export function toExportNode(n: Node): ExportNode {
  return {
    key: n.key,
    value: n.height === 0 ? n.value : undefined,
    version: n.version,
    height: n.height,
    ref: n.ref?.length === NODE_KEY_SIZE ? n.ref : undefined,
  };
}
