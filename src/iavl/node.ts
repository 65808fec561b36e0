/**
 * An IAVL node in memory. A node is either new (created in the working version, not yet
 * saved: `ref` is undefined and children may be in-memory nodes) or persisted (`ref` is its
 * database reference and children are references only, resolved through the node db cache).
 *
 * References: in the legacy layout a node is referenced by its 32-byte hash; in the node-key
 * layout by 12 bytes, u64be(version) || u32be(nonce). A 32-byte reference inside a node-key
 * tree points at a legacy node, as Go iavl v1 allows.
 */
export class Node {
  key: Uint8Array;
  /** Set for leaves only. */
  value: Uint8Array | undefined;
  version: number;
  height: number;
  size: number;
  hash: Uint8Array | undefined;
  left: Node | undefined;
  right: Node | undefined;
  leftRef: Uint8Array | undefined;
  rightRef: Uint8Array | undefined;
  ref: Uint8Array | undefined;

  constructor(key: Uint8Array, value: Uint8Array | undefined, version: number, height: number, size: number) {
    this.key = key;
    this.value = value;
    this.version = version;
    this.height = height;
    this.size = size;
    this.hash = undefined;
    this.left = undefined;
    this.right = undefined;
    this.leftRef = undefined;
    this.rightRef = undefined;
    this.ref = undefined;
  }

  static leaf(key: Uint8Array, value: Uint8Array, version: number): Node {
    return new Node(key, value, version, 0, 1);
  }

  get isLeaf(): boolean {
    return this.height === 0;
  }

  get persisted(): boolean {
    return this.ref !== undefined;
  }

  /** A new, unsaved copy at `version` that keeps the same children. */
  clone(version: number): Node {
    const n = new Node(this.key, this.value, version, this.height, this.size);
    n.left = this.left;
    n.right = this.right;
    n.leftRef = this.leftRef;
    n.rightRef = this.rightRef;
    return n;
  }
}
