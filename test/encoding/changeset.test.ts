import { describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from '../../src/encoding/bytes.js';
import { type Changeset, decodeChangeset, encodeChangeset } from '../../src/encoding/changeset.js';
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

// The three vectors from FORMATS.md (cosmos store/v2 internal/encoding).
const EMPTY = '00';
const SET = '01' + '08' + '73746f72656b6579' + '01' + '03' + '6b6579' + '00' + '05' + '76616c7565';
const REMOVE = '01' + '08' + '73746f72656b6579' + '01' + '03' + '6b6579' + '01';

describe('changeset codec', () => {
  it('encodes the empty changeset as 00', () => {
    expect(toHex(encodeChangeset({ changes: [] }))).toBe(EMPTY);
    expect(decodeChangeset(fromHex(EMPTY))).toEqual({ changes: [] });
  });

  it('encodes a set', () => {
    const cs: Changeset = {
      changes: [{ store: 'storekey', pairs: [{ key: utf8('key'), value: utf8('value') }] }],
    };
    expect(toHex(encodeChangeset(cs))).toBe(SET);
    const back = decodeChangeset(fromHex(SET));
    expect(back.changes[0].store).toBe('storekey');
    expect(toHex(back.changes[0].pairs[0].key)).toBe(toHex(utf8('key')));
    expect(toHex(back.changes[0].pairs[0].value!)).toBe(toHex(utf8('value')));
    expect(back.changes[0].pairs[0].remove).toBeUndefined();
  });

  it('encodes a remove', () => {
    const cs: Changeset = { changes: [{ store: 'storekey', pairs: [{ key: utf8('key'), remove: true }] }] };
    expect(toHex(encodeChangeset(cs))).toBe(REMOVE);
    expect(decodeChangeset(fromHex(REMOVE)).changes[0].pairs[0]).toEqual({ key: utf8('key'), remove: true });
  });

  it('round-trips many stores, empty values and binary keys', () => {
    const cs: Changeset = {
      changes: [
        { store: 'acc', pairs: [{ key: new Uint8Array([0, 255, 0]), value: new Uint8Array(0) }] },
        {
          store: 'bank',
          pairs: [
            { key: utf8('a'), value: new Uint8Array(300).fill(7) },
            { key: utf8('b'), remove: true },
          ],
        },
      ],
    };
    expect(decodeChangeset(encodeChangeset(cs))).toEqual(cs);
  });

  it('rejects remove flag 2', () => {
    expect(codeOf(() => decodeChangeset(fromHex(`${REMOVE.slice(0, -2)}02`)))).toBe(
      'ERR_INVALID_REMOVE_FLAG',
    );
  });

  it('rejects trailing bytes', () => {
    expect(codeOf(() => decodeChangeset(fromHex(`${SET}00`)))).toBe('ERR_TRAILING_BYTES');
  });

  it('rejects a truncated changeset at every cut', () => {
    for (let cut = 0; cut < SET.length / 2; cut++) {
      const code = codeOf(() => decodeChangeset(fromHex(SET.slice(0, cut * 2))));
      expect(['ERR_TRUNCATED', 'ERR_MALFORMED_VARINT']).toContain(code);
    }
  });

  it('rejects a length prefix beyond the buffer', () => {
    expect(codeOf(() => decodeChangeset(fromHex('017f61')))).toBe('ERR_TRUNCATED');
  });

  it('rejects a truncated and an over-long varint', () => {
    expect(codeOf(() => decodeChangeset(fromHex('80')))).toBe('ERR_MALFORMED_VARINT');
    expect(codeOf(() => decodeChangeset(fromHex('ffffffffffffffffffff01')))).toBe('ERR_MALFORMED_VARINT');
  });

  it('rejects a store key that is not UTF-8', () => {
    expect(codeOf(() => decodeChangeset(fromHex('0101ff00')))).toBe('ERR_INVALID_CHANGESET');
  });
});
