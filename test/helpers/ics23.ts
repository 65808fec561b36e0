import { ics23 } from '@confio/ics23';

/** Decodes our CommitmentProof bytes with the independent verifier's own protobuf code. */
export function decodeForVerifier(bytes: Uint8Array): ics23.CommitmentProof {
  return ics23.CommitmentProof.decode(bytes);
}
