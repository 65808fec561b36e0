import { describe, expect, it } from 'vitest';
import { isStoreMigrateError } from '../../src/errors.js';
import { ownBuffer, packBytes, unpackBytes } from '../../src/worker/wire.js';

const b = (...xs: number[]) => new Uint8Array(xs);

describe('wire: byte arrays in one transferable buffer', () => {
  it.each([
    { name: 'nothing', items: [] },
    { name: 'one key', items: [b(1, 2, 3)] },
    { name: 'absent and empty differ', items: [undefined, b(), b(0xff)] },
    {
      name: 'many',
      items: Array.from({ length: 300 }, (_, i) => (i % 7 === 0 ? undefined : b(i & 0xff, i >> 8))),
    },
  ])('round-trips $name', ({ items }) => {
    const packed = packBytes(items);
    expect(unpackBytes(packed)).toEqual(items);
    // What was packed can be transferred: it is a fresh buffer nobody else refers to.
    const clone = structuredClone(packed, { transfer: [packed] });
    expect(packed.byteLength).toBe(0);
    expect(unpackBytes(clone)).toEqual(items);
  });

  it.each([
    { name: 'no count', buf: new ArrayBuffer(2) },
    { name: 'a count larger than the buffer', buf: new Uint32Array([1000]).buffer },
    { name: 'an item past the end', buf: packBytes([b(1, 2, 3, 4)]).slice(0, 10) },
  ])('a truncated buffer is ERR_TRUNCATED: $name', ({ buf }) => {
    let err: unknown;
    try {
      unpackBytes(buf);
    } catch (e) {
      err = e;
    }
    expect(isStoreMigrateError(err, 'ERR_TRUNCATED')).toBe(true);
  });

  it('ownBuffer copies a view of a shared buffer, and passes a whole one through', () => {
    const whole = b(1, 2, 3);
    expect(ownBuffer(whole)).toBe(whole.buffer);
    const big = b(9, 1, 2, 3, 9);
    const view = big.subarray(1, 4);
    const own = ownBuffer(view);
    expect(own).not.toBe(big.buffer);
    expect(new Uint8Array(own)).toEqual(b(1, 2, 3));
  });
});
