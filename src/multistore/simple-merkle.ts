import { create } from '@bufbuild/protobuf';
import { ByteWriter } from '../encoding/byte-writer.js';
import { concatBytes } from '../encoding/bytes.js';
import {
  type ExistenceProof,
  ExistenceProofSchema,
  HashOp,
  InnerOpSchema,
  LeafOpSchema,
  LengthOp,
} from '../gen/cosmos/ics23/v1/proofs_pb.js';
import { EMPTY_HASH, sha256 } from '../iavl/node-hash.js';

/**
 * CometBFT's simple Merkle tree (RFC 6962: leaf = sha256(0x00 || bytes), inner =
 * sha256(0x01 || left || right), split at the largest power of two below n), and cosmos-sdk's
 * simple map on top of it, which makes the app hash from the store roots.
 */

const LEAF = new Uint8Array([0]);
const INNER = new Uint8Array([1]);

function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function leafHash(item: Uint8Array): Uint8Array {
  return sha256(concatBytes(LEAF, item));
}

function innerHash(l: Uint8Array, r: Uint8Array): Uint8Array {
  return sha256(concatBytes(INNER, l, r));
}

export function hashFromByteSlices(items: Uint8Array[]): Uint8Array {
  if (items.length === 0) return EMPTY_HASH;
  if (items.length === 1) return leafHash(items[0]);
  const k = splitPoint(items.length);
  return innerHash(hashFromByteSlices(items.slice(0, k)), hashFromByteSlices(items.slice(k)));
}

/** Sibling hashes from the leaf at `index` up to the root, with the side each sibling is on. */
function path(items: Uint8Array[], index: number): Array<{ siblingOnLeft: boolean; sibling: Uint8Array }> {
  if (items.length <= 1) return [];
  const k = splitPoint(items.length);
  if (index < k) {
    return [
      ...path(items.slice(0, k), index),
      { siblingOnLeft: false, sibling: hashFromByteSlices(items.slice(k)) },
    ];
  }
  return [
    ...path(items.slice(k), index - k),
    { siblingOnLeft: true, sibling: hashFromByteSlices(items.slice(0, k)) },
  ];
}

export interface NamedHash {
  name: string;
  hash: Uint8Array;
}

/** Simple-map leaf: uvarint(len(name)) || name || uvarint(32) || sha256(hash). */
function mapLeaf(e: NamedHash): Uint8Array {
  return new ByteWriter(80).bytes(new TextEncoder().encode(e.name)).bytes(sha256(e.hash)).finish();
}

function sorted(entries: NamedHash[]): NamedHash[] {
  return [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The app hash of a set of store roots, as cosmos-sdk rootmulti computes it. */
export function simpleMapHash(entries: NamedHash[]): Uint8Array {
  return hashFromByteSlices(sorted(entries).map(mapLeaf));
}

/** ICS23 existence proof (tendermint spec) of one entry of the simple map. */
export function simpleMapProof(entries: NamedHash[], name: string): ExistenceProof | undefined {
  const s = sorted(entries);
  const index = s.findIndex((e) => e.name === name);
  if (index < 0) return undefined;
  const steps = path(s.map(mapLeaf), index);
  return create(ExistenceProofSchema, {
    key: new TextEncoder().encode(name),
    value: s[index].hash,
    leaf: create(LeafOpSchema, {
      hash: HashOp.SHA256,
      prehashKey: HashOp.NO_HASH,
      prehashValue: HashOp.SHA256,
      length: LengthOp.VAR_PROTO,
      prefix: LEAF,
    }),
    path: steps.map((st) =>
      st.siblingOnLeft
        ? create(InnerOpSchema, {
            hash: HashOp.SHA256,
            prefix: concatBytes(INNER, st.sibling),
            suffix: new Uint8Array(0),
          })
        : create(InnerOpSchema, { hash: HashOp.SHA256, prefix: INNER, suffix: st.sibling }),
    ),
  });
}
