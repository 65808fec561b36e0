import { describe, expect, it } from 'vitest';
import { compareBytes, concatBytes, toHex, utf8 } from '../../../src/encoding/bytes.js';
import {
  dataKey,
  decodeCheckpoint,
  decodeDataKey,
  decodeValue,
  encodeCheckpoint,
  encodeValue,
  keyPrefix,
  readTerm,
  storePrefix,
  term,
  termLength,
} from '../../../src/v2/storage/mvcc-key.js';
import { fromHex } from '../../helpers/hex.js';
import { Rng, trickyKeys } from '../../helpers/random.js';

describe('StateStorage key encoding', () => {
  it('matches the documented vectors', () => {
    expect(toHex(term(new Uint8Array([])))).toBe('0001');
    expect(toHex(term(new Uint8Array([0x00, 0x61, 0xff])))).toBe('00ff61ff0001');
    const row = dataKey(storePrefix(utf8('bank')), new Uint8Array([0x00, 0x61]), 7);
    expect(toHex(row)).toBe('62616e6b000100ff6100010000000000000007');
    expect(toHex(encodeValue(new Uint8Array([0xab])))).toBe('01ab');
    expect(toHex(encodeValue(new Uint8Array(0)))).toBe('01');
    expect(toHex(encodeValue(undefined))).toBe('00');
    expect(decodeValue(fromHex('01'))).toEqual(new Uint8Array(0));
    expect(decodeValue(fromHex('00'))).toBeUndefined();
    expect(() => decodeValue(fromHex('02'))).toThrow(expect.objectContaining({ code: 'ERR_DB_IO' }));
    const cp = { version: 9, count: 3, store: utf8('bank'), key: new Uint8Array([0, 1]) };
    expect(toHex(encodeCheckpoint(cp))).toBe('0000000000000009000000000000000304' + '62616e6b' + '020001');
    expect(decodeCheckpoint(encodeCheckpoint(cp))).toEqual(cp);
  });

  it('sorts (store, key, version) tuples exactly like their encodings', () => {
    const rng = new Rng(7);
    const keys = trickyKeys(rng, 40);
    const stores = ['', 'a', 'a\u0000', 'a\u0000b', 'ab', '\u0000', '\uffff', '\u{10000}'];
    const versions = [0, 1, 255, 256, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER];
    const tuples = Array.from({ length: 600 }, () => ({
      store: rng.pick(stores),
      key: rng.pick(keys),
      version: rng.pick(versions),
    }));
    const byTuple = [...tuples].sort(
      (a, b) =>
        compareBytes(utf8(a.store), utf8(b.store)) || compareBytes(a.key, b.key) || a.version - b.version,
    );
    const enc = (t: (typeof tuples)[number]) => dataKey(storePrefix(utf8(t.store)), t.key, t.version);
    const byBytes = [...tuples].sort((a, b) => compareBytes(enc(a), enc(b)));
    expect(byBytes.map((t) => toHex(enc(t)))).toEqual(byTuple.map((t) => toHex(enc(t))));
    for (const t of tuples) {
      const row = enc(t);
      expect(decodeDataKey(row)).toEqual({ store: t.store, key: t.key, version: t.version });
      // Every version of a key shares its key prefix; no other key's rows do.
      const pfx = keyPrefix(storePrefix(utf8(t.store)), t.key);
      expect(toHex(row.subarray(0, pfx.length))).toBe(toHex(pfx));
      expect(termLength(row, 0)).toBe(storePrefix(utf8(t.store)).length);
    }
  });

  it('rejects malformed terms', () => {
    expect(() => readTerm(fromHex('6100'), 0)).toThrow(expect.objectContaining({ code: 'ERR_DB_IO' }));
    expect(() => readTerm(fromHex('610002'), 0)).toThrow(expect.objectContaining({ code: 'ERR_DB_IO' }));
    expect(() => termLength(fromHex('6161'), 0)).toThrow(expect.objectContaining({ code: 'ERR_DB_IO' }));
    expect(readTerm(concatBytes(fromHex('00ff0001'), fromHex('ee')), 0)).toEqual([new Uint8Array([0]), 4]);
  });
});
