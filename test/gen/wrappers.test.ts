import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { Int64ValueSchema } from '@bufbuild/protobuf/wkt';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../helpers/hex.js';

describe('google.protobuf.Int64Value', () => {
  it('encodes small values as a single-byte varint', () => {
    expect(toHex(toBinary(Int64ValueSchema, create(Int64ValueSchema, { value: 7n })))).toBe('0807');
  });

  it('encodes larger values as a multi-byte varint', () => {
    // 300 = 0b10_0101100 -> ac 02
    expect(toHex(toBinary(Int64ValueSchema, create(Int64ValueSchema, { value: 300n })))).toBe('08ac02');
  });

  it('encodes negative values as a 10-byte varint', () => {
    const bytes = toBinary(Int64ValueSchema, create(Int64ValueSchema, { value: -1n }));
    expect(toHex(bytes)).toBe(`08${'ff'.repeat(9)}01`);
  });

  it('encodes zero as empty and decodes hand-written bytes', () => {
    expect(toBinary(Int64ValueSchema, create(Int64ValueSchema, { value: 0n })).length).toBe(0);
    expect(fromBinary(Int64ValueSchema, fromHex('08ac02')).value).toBe(300n);
  });
});
