import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { SnapshotItemSchema, SnapshotSchema } from '../../src/gen/cosmos/store/snapshots/v2/snapshot_pb.js';
import { fromHex, toHex } from '../helpers/hex.js';

describe('cosmos.store.snapshots.v2', () => {
  it('round trips a SnapshotItem with a store item', () => {
    const item = create(SnapshotItemSchema, {
      item: { case: 'store', value: { name: 'bank' } },
    });
    const bytes = toBinary(SnapshotItemSchema, item);
    // field 1 (store), len 6 { field 1 (name), len 4, "bank" }
    expect(toHex(bytes)).toBe('0a06' + '0a0462616e6b');

    const decoded = fromBinary(SnapshotItemSchema, bytes);
    expect(decoded.item.case).toBe('store');
    expect(decoded.item.case === 'store' && decoded.item.value.name).toBe('bank');
  });

  it('round trips a SnapshotItem with an iavl item', () => {
    const key = fromHex('0102ff');
    const value = new TextEncoder().encode('value');
    const item = create(SnapshotItemSchema, {
      item: { case: 'iavl', value: { key, value, version: 123_456_789_012n, height: 3 } },
    });
    const bytes = toBinary(SnapshotItemSchema, item);
    expect(bytes[0]).toBe(0x12); // field 2 (iavl), wire type 2

    const decoded = fromBinary(SnapshotItemSchema, bytes);
    expect(decoded.item.case).toBe('iavl');
    if (decoded.item.case !== 'iavl') throw new Error('unreachable');
    expect(decoded.item.value.key).toEqual(key);
    expect(decoded.item.value.value).toEqual(value);
    expect(decoded.item.value.version).toBe(123_456_789_012n);
    expect(decoded.item.value.height).toBe(3);
    expect(toBinary(SnapshotItemSchema, decoded)).toEqual(bytes);
  });

  it('encodes a leaf iavl item (height 0) without the height field', () => {
    const item = create(SnapshotItemSchema, {
      item: { case: 'iavl', value: { key: fromHex('61'), value: fromHex('62'), version: 1n, height: 0 } },
    });
    // field 2, len 8 { 0a 01 'a', 12 01 'b', 18 01 }
    expect(toHex(toBinary(SnapshotItemSchema, item))).toBe('1208' + '0a0161' + '120162' + '1801');
  });

  it('round trips a Snapshot with metadata', () => {
    const snapshot = create(SnapshotSchema, {
      height: 42n,
      format: 3,
      chunks: 2,
      hash: new Uint8Array(32).fill(1),
      metadata: { chunkHashes: [new Uint8Array(32).fill(2), new Uint8Array(32).fill(3)] },
    });
    const decoded = fromBinary(SnapshotSchema, toBinary(SnapshotSchema, snapshot));
    expect(decoded.height).toBe(42n);
    expect(decoded.format).toBe(3);
    expect(decoded.chunks).toBe(2);
    expect(decoded.hash).toEqual(snapshot.hash);
    expect(decoded.metadata?.chunkHashes).toEqual(snapshot.metadata?.chunkHashes);
  });
});
