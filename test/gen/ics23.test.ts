import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { iavlSpec, ics23 } from '@confio/ics23';
import { describe, expect, it } from 'vitest';
import {
  CommitmentProofSchema,
  HashOp,
  LengthOp,
  ProofSpecSchema,
} from '../../src/gen/cosmos/ics23/v1/proofs_pb.js';
import { toHex } from '../helpers/hex.js';

describe('cosmos.ics23.v1', () => {
  it('has the upstream enum values', () => {
    expect(HashOp.NO_HASH).toBe(0);
    expect(HashOp.SHA256).toBe(1);
    expect(HashOp.SHA512).toBe(2);
    expect(HashOp.SHA512_256).toBe(6);
    expect(LengthOp.NO_PREFIX).toBe(0);
    expect(LengthOp.VAR_PROTO).toBe(1);
    expect(LengthOp.REQUIRE_64_BYTES).toBe(8);
  });

  const proof = create(CommitmentProofSchema, {
    proof: {
      case: 'exist',
      value: {
        key: new TextEncoder().encode('key'),
        value: new TextEncoder().encode('value'),
        leaf: {
          hash: HashOp.SHA256,
          prehashKey: HashOp.NO_HASH,
          prehashValue: HashOp.SHA256,
          length: LengthOp.VAR_PROTO,
          prefix: Uint8Array.of(0x00, 0x02, 0x02),
        },
        path: [
          { hash: HashOp.SHA256, prefix: Uint8Array.of(0x02, 0x04, 0x02, 0x20), suffix: new Uint8Array(0) },
          {
            hash: HashOp.SHA256,
            prefix: Uint8Array.of(0x04, 0x08, 0x04),
            suffix: new Uint8Array(33).fill(7),
          },
        ],
      },
    },
  });

  it('round trips a CommitmentProof with an ExistenceProof', () => {
    const bytes = toBinary(CommitmentProofSchema, proof);
    expect(bytes[0]).toBe(0x0a); // field 1 (exist), wire type 2

    const decoded = fromBinary(CommitmentProofSchema, bytes);
    expect(decoded.proof.case).toBe('exist');
    if (decoded.proof.case !== 'exist') throw new Error('unreachable');
    const exist = decoded.proof.value;
    expect(new TextDecoder().decode(exist.key)).toBe('key');
    expect(new TextDecoder().decode(exist.value)).toBe('value');
    expect(exist.leaf?.hash).toBe(HashOp.SHA256);
    expect(exist.leaf?.length).toBe(LengthOp.VAR_PROTO);
    expect(exist.leaf?.prefix).toEqual(Uint8Array.of(0x00, 0x02, 0x02));
    expect(exist.path).toHaveLength(2);
    expect(exist.path[1].suffix).toEqual(new Uint8Array(33).fill(7));
    expect(toBinary(CommitmentProofSchema, decoded)).toEqual(bytes);
  });

  it('is wire-compatible with @confio/ics23', () => {
    const bytes = toBinary(CommitmentProofSchema, proof);
    const theirs = ics23.CommitmentProof.decode(bytes);
    expect(theirs.exist?.leaf?.prehashValue).toBe(ics23.HashOp.SHA256);
    expect(theirs.exist?.path).toHaveLength(2);
    expect(toHex(ics23.CommitmentProof.encode(theirs).finish())).toBe(toHex(bytes));

    const specBytes = new Uint8Array(ics23.ProofSpec.encode(iavlSpec).finish());
    const spec = fromBinary(ProofSpecSchema, specBytes);
    expect(spec.leafSpec?.length).toBe(LengthOp.VAR_PROTO);
    expect(spec.innerSpec?.childOrder).toEqual([0, 1]);
    expect(spec.innerSpec?.childSize).toBe(33);
    expect(spec.leafSpec?.prehashKey).toBe(HashOp.NO_HASH);
    expect(spec.leafSpec?.prefix).toEqual(Uint8Array.of(0));

    // protobufjs writes the explicitly set zero `prehashKey` (10 00); proto3
    // encoders like protobuf-es and gogoproto omit it, so compare with the
    // canonical encoding, written out by hand:
    //   leaf_spec  0a 09 { hash 08 01, prehash_value 18 01, length 20 01, prefix 2a 01 00 }
    //   inner_spec 12 0c { child_order 0a 02 00 01, child_size 10 21, min 18 04, max 20 0c, hash 30 01 }
    const ours = toBinary(ProofSpecSchema, spec);
    expect(toHex(ours)).toBe(
      ['0a09', '0801180120012a0100', '120c', '0a020001', '1021', '1804', '200c', '3001'].join(''),
    );
    expect(toHex(ics23.ProofSpec.encode(ics23.ProofSpec.decode(ours)).finish())).toBe(toHex(ours));
  });
});
