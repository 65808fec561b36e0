import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { describe, expect, it } from 'vitest';
import { CommitInfoSchema } from '../../src/gen/cosmos/store/v1beta1/commit_info_pb.js';
import { toHex } from '../helpers/hex.js';

describe('cosmos.store.v1beta1.CommitInfo', () => {
  it('encodes to hand-computed bytes', () => {
    const hash = new Uint8Array(32).fill(0xab);
    const info = create(CommitInfoSchema, {
      version: 5n,
      storeInfos: [{ name: 'bank', commitId: { version: 5n, hash } }],
    });

    // CommitID:   08 05 (version=5), 12 20 <32 x ab> (hash)          = 36 bytes (0x24)
    const commitId = ['0805', '1220', 'ab'.repeat(32)].join('');
    // StoreInfo:  0a 04 "bank", 12 24 <CommitID>                     = 44 bytes (0x2c)
    const storeInfo = ['0a0462616e6b', '1224', commitId].join('');
    // CommitInfo: 08 05 (version=5), 12 2c <StoreInfo>, no timestamp = 48 bytes
    const expected = ['0805', '122c', storeInfo].join('');

    const bytes = toBinary(CommitInfoSchema, info);
    expect(bytes.length).toBe(48);
    expect(toHex(bytes)).toBe(expected);
  });

  it('round trips with a timestamp', () => {
    const info = create(CommitInfoSchema, {
      version: 7n,
      storeInfos: [
        { name: 'acc', commitId: { version: 7n, hash: new Uint8Array(32).fill(1) } },
        { name: 'bank', commitId: { version: 7n, hash: new Uint8Array(32).fill(2) } },
      ],
      timestamp: timestampFromDate(new Date('2024-01-02T03:04:05.678Z')),
    });
    const bytes = toBinary(CommitInfoSchema, info);
    const decoded = fromBinary(CommitInfoSchema, bytes);
    expect(decoded.version).toBe(7n);
    expect(decoded.storeInfos.map((s) => s.name)).toEqual(['acc', 'bank']);
    expect(decoded.storeInfos[1].commitId?.hash).toEqual(new Uint8Array(32).fill(2));
    expect(decoded.timestamp?.seconds).toBe(BigInt(Date.UTC(2024, 0, 2, 3, 4, 5) / 1000));
    expect(decoded.timestamp?.nanos).toBe(678_000_000);
    expect(toBinary(CommitInfoSchema, decoded)).toEqual(bytes);
  });
});
