import { create, toBinary } from '@bufbuild/protobuf';
import { ByteWriter } from '../encoding/byte-writer.js';
import { compareBytes } from '../encoding/bytes.js';
import {
  type CommitmentProof,
  CommitmentProofSchema,
  type ExistenceProof,
  ExistenceProofSchema,
  HashOp,
  type InnerOp,
  InnerOpSchema,
  LeafOpSchema,
  LengthOp,
  NonExistenceProofSchema,
} from '../gen/cosmos/ics23/v1/proofs_pb.js';
import type { Node } from './node.js';
import type { NodeDb } from './node-db.js';
import { iterateNodes } from './tree-walk.js';

/**
 * ICS23 proofs in the IAVL spec, built as cosmos/iavl's proof_ics23.go does: a leaf op whose
 * prefix is varint(0) varint(1) varint(version), then one inner op per ancestor, leaf to root.
 */

function leafOp(version: number) {
  return create(LeafOpSchema, {
    hash: HashOp.SHA256,
    prehashKey: HashOp.NO_HASH,
    prehashValue: HashOp.SHA256,
    length: LengthOp.VAR_PROTO,
    prefix: new ByteWriter(12).varint(0).varint(1).varint(version).finish(),
  });
}

function innerOp(n: Node, fromLeft: boolean, siblingHash: Uint8Array): InnerOp {
  const w = new ByteWriter(48).varint(n.height).varint(n.size).varint(n.version);
  if (fromLeft) {
    // Our child is on the left: the right sibling's hash follows as the suffix.
    w.byte(32);
    return create(InnerOpSchema, {
      hash: HashOp.SHA256,
      prefix: w.finish(),
      suffix: new ByteWriter(33).bytes(siblingHash).finish(),
    });
  }
  w.bytes(siblingHash).byte(32);
  return create(InnerOpSchema, { hash: HashOp.SHA256, prefix: w.finish(), suffix: new Uint8Array(0) });
}

/** Existence proof of a key present in the tree under `root`, or undefined when it is absent. */
export function existenceProof(ndb: NodeDb, root: Node | null, key: Uint8Array): ExistenceProof | undefined {
  if (root === null) return undefined;
  const path: InnerOp[] = [];
  let n = root;
  while (n.height > 0) {
    const l = ndb.left(n);
    const r = ndb.right(n);
    if (compareBytes(key, n.key) < 0) {
      path.push(innerOp(n, true, ndb.hashOf(r)));
      n = l;
    } else {
      path.push(innerOp(n, false, ndb.hashOf(l)));
      n = r;
    }
  }
  if (compareBytes(n.key, key) !== 0) return undefined;
  return create(ExistenceProofSchema, {
    key: n.key,
    value: n.value!,
    leaf: leafOp(n.version),
    path: path.reverse(),
  });
}

/**
 * A CommitmentProof for `key`: existence when present, otherwise non-existence with the
 * neighbours on either side (either may be missing at the edges of the tree).
 */
export function commitmentProof(ndb: NodeDb, root: Node | null, key: Uint8Array): CommitmentProof {
  const exist = existenceProof(ndb, root, key);
  if (exist !== undefined) return create(CommitmentProofSchema, { proof: { case: 'exist', value: exist } });
  // An empty tree has no neighbours: as in Go iavl the proof carries the key only. ICS23
  // verifiers cannot check it; the empty root, sha256(""), is the evidence.
  let left: ExistenceProof | undefined;
  let right: ExistenceProof | undefined;
  for (const n of iterateNodes(ndb, root, { end: key }, true)) {
    left = existenceProof(ndb, root, n.key);
    break;
  }
  for (const n of iterateNodes(ndb, root, { start: key }, false)) {
    right = existenceProof(ndb, root, n.key);
    break;
  }
  return create(CommitmentProofSchema, {
    proof: { case: 'nonexist', value: create(NonExistenceProofSchema, { key, left, right }) },
  });
}

export function encodeCommitmentProof(p: CommitmentProof): Uint8Array {
  return toBinary(CommitmentProofSchema, p);
}
