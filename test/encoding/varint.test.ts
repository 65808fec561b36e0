import { describe, expect, it } from 'vitest';
import { ByteReader } from '../../src/encoding/byte-reader.js';
import { ByteWriter } from '../../src/encoding/byte-writer.js';
import { fromHex, toHex } from '../../src/encoding/bytes.js';
import {
  encodeUvarint,
  encodeVarint,
  readUvarint,
  readVarint,
  takeUvarint,
} from '../../src/encoding/varint.js';
import { StoreMigrateError } from '../../src/errors.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof StoreMigrateError) return err.code;
    throw err;
  }
  return undefined;
}

describe('uvarint', () => {
  // Vectors as Go's binary.PutUvarint writes them.
  const vectors: Array<[number, string]> = [
    [0, '00'],
    [1, '01'],
    [127, '7f'],
    [128, '8001'],
    [300, 'ac02'],
    [16384, '808001'],
    [2 ** 32, '8080808010'],
    [Number.MAX_SAFE_INTEGER, 'ffffffffffffff0f'],
  ];
  it.each(vectors)('encodes %d as %s and back', (n, hex) => {
    expect(toHex(encodeUvarint(n))).toBe(hex);
    expect(readUvarint(fromHex(hex), 0)).toEqual([n, hex.length / 2]);
  });

  it('reads through a cursor, which moves past each value and stays put on an error', () => {
    const cursor = { buf: fromHex('01ac028080018080'), offset: 0 };
    expect([takeUvarint(cursor), takeUvarint(cursor), takeUvarint(cursor)]).toEqual([1, 300, 16384]);
    expect(cursor.offset).toBe(6);
    expect(codeOf(() => takeUvarint(cursor))).toBe('ERR_MALFORMED_VARINT');
    expect(cursor.offset).toBe(6);
  });

  it('rejects a truncated varint', () => {
    expect(codeOf(() => readUvarint(fromHex('80'), 0))).toBe('ERR_MALFORMED_VARINT');
    expect(codeOf(() => readUvarint(new Uint8Array(0), 0))).toBe('ERR_MALFORMED_VARINT');
  });

  it('rejects a varint over 10 bytes', () => {
    expect(codeOf(() => readUvarint(fromHex('8080808080808080808001'), 0))).toBe('ERR_MALFORMED_VARINT');
    // Ten bytes whose last one carries more than the 64th bit overflow too, as in Go.
    expect(codeOf(() => readUvarint(fromHex('ffffffffffffffffff02'), 0))).toBe('ERR_MALFORMED_VARINT');
  });

  it('rejects a value beyond 2^53 with its own code', () => {
    expect(codeOf(() => readUvarint(fromHex('ffffffffffffffff7f'), 0))).toBe('ERR_VARINT_OVERFLOW');
  });

  it('refuses to encode negative or unsafe numbers', () => {
    expect(codeOf(() => encodeUvarint(-1))).toBe('ERR_VARINT_OVERFLOW');
    expect(codeOf(() => encodeUvarint(2 ** 60))).toBe('ERR_VARINT_OVERFLOW');
  });
});

describe('varint (zigzag)', () => {
  const vectors: Array<[number, string]> = [
    [0, '00'],
    [-1, '01'],
    [1, '02'],
    [-2, '03'],
    [63, '7e'],
    [-64, '7f'],
    [64, '8001'],
    [1000, 'd00f'],
    [-1000, 'cf0f'],
  ];
  it.each(vectors)('encodes %d as %s and back', (n, hex) => {
    expect(toHex(encodeVarint(n))).toBe(hex);
    expect(readVarint(fromHex(hex), 0)[0]).toBe(n);
  });
});

describe('ByteWriter and ByteReader', () => {
  it('round-trips mixed fields', () => {
    const w = new ByteWriter(1);
    w.varint(-5)
      .uvarint(300)
      .bytes(fromHex('deadbeef'))
      .u32be(0x01020304)
      .u64be(2 ** 40 + 7)
      .byte(9);
    const r = new ByteReader(w.finish());
    expect(r.varint()).toBe(-5);
    expect(r.uvarint()).toBe(300);
    expect(toHex(r.bytes())).toBe('deadbeef');
    expect(r.u32be()).toBe(0x01020304);
    expect(r.u64be()).toBe(2 ** 40 + 7);
    expect(r.byte()).toBe(9);
    r.end();
  });

  it('writes length-prefixed bytes as uvarint(len) || b', () => {
    expect(toHex(new ByteWriter().bytes(fromHex('616263')).finish())).toBe('03616263');
    expect(toHex(new ByteWriter().bytes(new Uint8Array(0)).finish())).toBe('00');
  });

  it('rejects a length prefix beyond the buffer', () => {
    expect(codeOf(() => new ByteReader(fromHex('05616263')).bytes())).toBe('ERR_TRUNCATED');
  });

  it('rejects trailing bytes', () => {
    const r = new ByteReader(fromHex('0100'));
    r.uvarint();
    expect(codeOf(() => r.end())).toBe('ERR_TRAILING_BYTES');
  });

  it('rejects truncated fixed-width integers', () => {
    expect(codeOf(() => new ByteReader(fromHex('010203')).u32be())).toBe('ERR_TRUNCATED');
    expect(codeOf(() => new ByteReader(fromHex('01020304')).u64be())).toBe('ERR_TRUNCATED');
  });
});
