import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { StoreMigrateError } from '../errors.js';
import { SnapshotItemSchema } from '../gen/cosmos/store/snapshots/v2/snapshot_pb.js';

/**
 * A snapshot stream item in memory: a store header, then that store's IAVL nodes in
 * post-order. A light shape for the hot path; `encodeSnapshotItem` gives the
 * `cosmos.store.snapshots.v2.SnapshotItem` wire bytes.
 */
export type SnapshotItem =
  | { kind: 'store'; name: string }
  | {
      kind: 'iavl';
      key: Uint8Array;
      value: Uint8Array | undefined;
      version: number;
      height: number;
      /** The node's key in a node-key source tree (see ExportNode.ref); never on the wire. */
      ref?: Uint8Array;
    };

export function encodeSnapshotItem(item: SnapshotItem): Uint8Array {
  const msg =
    item.kind === 'store'
      ? create(SnapshotItemSchema, { item: { case: 'store', value: { name: item.name } } })
      : create(SnapshotItemSchema, {
          item: {
            case: 'iavl',
            value: {
              key: item.key,
              value: item.value ?? new Uint8Array(0),
              version: BigInt(item.version),
              height: item.height,
            },
          },
        });
  return toBinary(SnapshotItemSchema, msg);
}

/** Decodes wire bytes; anything but a store or IAVL item is a typed error. */
export function decodeSnapshotItem(bytes: Uint8Array): SnapshotItem {
  let msg: ReturnType<typeof fromBinary<typeof SnapshotItemSchema>>;
  try {
    msg = fromBinary(SnapshotItemSchema, bytes);
  } catch (err) {
    throw new StoreMigrateError('ERR_MALFORMED_PROTOBUF', 'snapshot item does not decode', { cause: err });
  }
  switch (msg.item.case) {
    case 'store':
      return { kind: 'store', name: msg.item.value.name };
    case 'iavl': {
      const v = msg.item.value;
      const height = v.height;
      return {
        kind: 'iavl',
        key: v.key,
        value: height === 0 ? v.value : undefined,
        version: Number(v.version),
        height,
      };
    }
    default:
      throw new StoreMigrateError(
        'ERR_SNAPSHOT_ORDER',
        `unsupported snapshot item ${msg.item.case ?? 'empty'}`,
      );
  }
}
