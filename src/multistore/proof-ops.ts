import { create, toBinary } from '@bufbuild/protobuf';
import { utf8 } from '../encoding/bytes.js';
import { StoreMigrateError } from '../errors.js';
import { type CommitmentProof, CommitmentProofSchema } from '../gen/cosmos/ics23/v1/proofs_pb.js';
import type { CommitInfo } from './commit-info.js';
import { simpleMapProof } from './simple-merkle.js';

/** One CometBFT ProofOp: `data` is a serialized ICS23 CommitmentProof. */
export interface ProofOp {
  type: 'ics23:iavl' | 'ics23:simple';
  key: Uint8Array;
  data: Uint8Array;
}

export interface ProofOps {
  ops: ProofOp[];
}

export interface QueryResult {
  value: Uint8Array | undefined;
  height: number;
  proof?: ProofOps;
}

/**
 * The proof chain of a query, as cosmos-sdk rootmulti returns it: the key inside the store's
 * IAVL root (iavl spec), then the store name inside the app hash (tendermint spec).
 */
export function queryProofOps(
  key: Uint8Array,
  store: string,
  iavlProof: CommitmentProof,
  ci: CommitInfo,
): ProofOps {
  const storeProof = simpleMapProof(ci.stores, store);
  if (storeProof === undefined) {
    throw new StoreMigrateError(
      'ERR_UNKNOWN_STORE',
      `store ${store} is not in the commit info of ${ci.version}`,
    );
  }
  return {
    ops: [
      { type: 'ics23:iavl', key, data: toBinary(CommitmentProofSchema, iavlProof) },
      {
        type: 'ics23:simple',
        key: utf8(store),
        data: toBinary(
          CommitmentProofSchema,
          create(CommitmentProofSchema, { proof: { case: 'exist', value: storeProof } }),
        ),
      },
    ],
  };
}
