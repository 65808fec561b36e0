import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs, timestampMs } from '@bufbuild/protobuf/wkt';
import { StoreMigrateError } from '../errors.js';
import { CommitInfoSchema } from '../gen/cosmos/store/v1beta1/commit_info_pb.js';
import { simpleMapHash } from './simple-merkle.js';

/** One store's root at a version. */
export interface StoreInfo {
  name: string;
  version: number;
  hash: Uint8Array;
}

/** What a commit produced: the per-store roots and the app hash over them. */
export interface CommitInfo {
  version: number;
  stores: StoreInfo[];
  appHash: Uint8Array;
  timestampMs?: number;
}

/** A store listed with an empty CommitID (no version, no hash): a memory store, which has no tree. */
export function isTreeless(s: StoreInfo): boolean {
  return s.version === 0 && s.hash.length === 0;
}

export function makeCommitInfo(version: number, stores: StoreInfo[], timestampMs?: number): CommitInfo {
  const sorted = [...stores].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { version, stores: sorted, appHash: simpleMapHash(sorted), timestampMs };
}

/** `cosmos.store.v1beta1.CommitInfo` bytes, as rootmulti stores under `s/<version>`. */
export function encodeCommitInfo(ci: CommitInfo): Uint8Array {
  return toBinary(
    CommitInfoSchema,
    create(CommitInfoSchema, {
      version: BigInt(ci.version),
      storeInfos: ci.stores.map((s) => ({
        name: s.name,
        commitId: { version: BigInt(s.version), hash: s.hash },
      })),
      timestamp: ci.timestampMs === undefined ? undefined : timestampFromMs(ci.timestampMs),
    }),
  );
}

export function decodeCommitInfo(bytes: Uint8Array): CommitInfo {
  let msg: ReturnType<typeof fromBinary<typeof CommitInfoSchema>>;
  try {
    msg = fromBinary(CommitInfoSchema, bytes);
  } catch (err) {
    throw new StoreMigrateError('ERR_MALFORMED_PROTOBUF', 'commit info does not decode', { cause: err });
  }
  const stores = msg.storeInfos.map((s) => ({
    name: s.name,
    version: Number(s.commitId?.version ?? 0n),
    hash: s.commitId?.hash ?? new Uint8Array(0),
  }));
  return makeCommitInfo(Number(msg.version), stores, msg.timestamp ? timestampMs(msg.timestamp) : undefined);
}
