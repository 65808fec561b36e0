import type { Node } from './node.js';
import type { NodeDb } from './node-db.js';
import { type ExportNode, postOrder, toExportNode } from './tree-walk.js';

export interface PrefetchExportOptions {
  /** Check every node's hash as it is read (and cache it). Default true. */
  verify?: boolean;
  /** Subtrees up to this height are read whole, level by level. Default 10 (at most 2,047 nodes). */
  subtreeHeight?: number;
  /** Subtrees being read ahead of the one being emitted. Default 8. */
  ahead?: number;
}

/** A node of the tree's top, or a subtree to read whole; in post-order. */
type Step = { top: Node; sub?: undefined } | { sub: Node; top?: undefined };

/**
 * The same post-order as `exportNodes`, in chunks, with the reads moved off this thread: the
 * tree's top is walked first, then each subtree of height ≤ `subtreeHeight` is read level by
 * level with one `getMany` per level on LevelDB's thread pool, a few subtrees ahead of the one
 * being handed out. A consumer that works on each chunk (an importer hashing and writing)
 * then overlaps the random reads of a legacy tree. Memory stays at about `ahead + 1` subtrees.
 */
export async function* exportChunks(
  ndb: NodeDb,
  root: Node | null,
  options: PrefetchExportOptions = {},
): AsyncGenerator<ExportNode[]> {
  if (root === null) return;
  const verify = options.verify ?? true;
  const maxHeight = options.subtreeHeight ?? 10;
  const ahead = Math.max(1, options.ahead ?? 8);
  const steps = await planSteps(ndb, root, maxHeight, verify);
  const subs = steps.filter((s) => s.sub !== undefined).map((s) => s.sub!);
  const reading: Array<Promise<Map<Uint8Array, Node>>> = [];
  let started = 0;
  const startReads = (): void => {
    while (reading.length < ahead && started < subs.length) {
      const p = readSubtree(ndb, subs[started++], verify);
      // Awaited in turn below; this only keeps an early failure from counting as unhandled.
      p.catch(() => {});
      reading.push(p);
    }
  };
  let tops: ExportNode[] = [];
  for (const step of steps) {
    if (step.top !== undefined) {
      tops.push(toExportNode(step.top));
      continue;
    }
    if (tops.length > 0) {
      yield tops;
      tops = [];
    }
    startReads();
    const byRef = await reading.shift()!;
    startReads();
    const chunk: ExportNode[] = [];
    for (const n of postOrder(step.sub, (ref) => byRef.get(ref)!)) chunk.push(toExportNode(n));
    yield chunk;
  }
  if (tops.length > 0) yield tops;
}

/**
 * The top of the tree (nodes above `maxHeight`) in post-order, with the subtrees under it as
 * steps. The top is read level by level with one `getMany` each, like the subtrees, rather than
 * node by node: a reader whose every read is a round trip (the migration worker's v1) would
 * otherwise wait once per top node.
 */
async function planSteps(ndb: NodeDb, root: Node, maxHeight: number, verify: boolean): Promise<Step[]> {
  const kids = new Map<Node, [Node, Node]>();
  let level = root.height > maxHeight ? [root] : [];
  while (level.length > 0) {
    const refs: Uint8Array[] = [];
    const slots: Array<[Node, number]> = [];
    const pairs = level.map((n) => {
      const pair: [Node, Node] = [n.left as Node, n.right as Node];
      if (n.left === undefined) {
        refs.push(n.leftRef!);
        slots.push([n, 0]);
      }
      if (n.right === undefined) {
        refs.push(n.rightRef!);
        slots.push([n, 1]);
      }
      kids.set(n, pair);
      return pair;
    });
    const nodes = refs.length > 0 ? await ndb.loadMany(refs, verify) : [];
    for (let i = 0; i < nodes.length; i++) kids.get(slots[i][0])![slots[i][1]] = nodes[i];
    level = pairs.flat().filter((n) => n.height > maxHeight);
  }
  const steps: Step[] = [];
  const stack: Array<[Node, boolean]> = [[root, false]];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const n = top[0];
    if (n.height <= maxHeight) {
      stack.pop();
      steps.push({ sub: n });
    } else if (top[1]) {
      stack.pop();
      steps.push({ top: n });
    } else {
      top[1] = true;
      const [left, right] = kids.get(n)!;
      stack.push([right, false], [left, false]);
    }
  }
  return steps;
}

/** Every node under `top`, read level by level; keyed by the parent's reference object. */
async function readSubtree(ndb: NodeDb, top: Node, verify: boolean): Promise<Map<Uint8Array, Node>> {
  const byRef = new Map<Uint8Array, Node>();
  let level: Node[] = [top];
  while (level.length > 0) {
    const refs: Uint8Array[] = [];
    const next: Node[] = [];
    for (const n of level) {
      if (n.height === 0) continue;
      if (n.left !== undefined) next.push(n.left);
      else refs.push(n.leftRef!);
      if (n.right !== undefined) next.push(n.right);
      else refs.push(n.rightRef!);
    }
    if (refs.length > 0) {
      const nodes = await ndb.loadMany(refs, verify);
      for (let i = 0; i < refs.length; i++) {
        byRef.set(refs[i], nodes[i]);
        next.push(nodes[i]);
      }
    }
    level = next;
  }
  return byRef;
}
