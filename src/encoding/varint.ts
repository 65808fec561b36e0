import { StoreMigrateError } from '../errors.js';

/**
 * LEB128 varints as Go's encoding/binary writes them. Values are JavaScript numbers and must
 * be safe integers; the wire format itself carries 64-bit integers.
 */

const TWO_32 = 0x1_0000_0000;

export function uvarintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** Writes uvarint(n) into `out` at `offset`; returns the new offset. */
export function putUvarint(out: Uint8Array, offset: number, n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new StoreMigrateError('ERR_VARINT_OVERFLOW', `uvarint out of range: ${n}`);
  }
  // Fast path for 32-bit values, which is nearly every length and height.
  if (n < TWO_32) {
    while (n >= 0x80) {
      out[offset++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    out[offset++] = n;
    return offset;
  }
  while (n >= 0x80) {
    out[offset++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  out[offset++] = n;
  return offset;
}

/** Zigzag mapping used by Go's binary.PutVarint. */
export function zigzag(n: number): number {
  if (!Number.isSafeInteger(n))
    throw new StoreMigrateError('ERR_VARINT_OVERFLOW', `varint out of range: ${n}`);
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

export function unzigzag(u: number): number {
  // u is a non-negative safe integer; odd values are negative.
  return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
}

export function encodeUvarint(n: number): Uint8Array {
  const out = new Uint8Array(uvarintSize(n));
  putUvarint(out, 0, n);
  return out;
}

export function encodeVarint(n: number): Uint8Array {
  return encodeUvarint(zigzag(n));
}

/** Where a read is: `takeUvarint` reads at `offset` and moves it past what it read. */
export interface VarintCursor {
  readonly buf: Uint8Array;
  offset: number;
}

/**
 * As readUvarint, and advances the cursor. It returns a number, not a pair: a node decode
 * reads up to nine varints, and V8 does not always optimise a pair away.
 */
export function takeUvarint(c: VarintCursor): number {
  const { buf, offset } = c;
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    const at = offset + i;
    if (at >= buf.length) {
      throw new StoreMigrateError('ERR_MALFORMED_VARINT', `truncated varint at offset ${offset}`, {
        details: { offset },
      });
    }
    const b = buf[at];
    if (i === 9 && b > 1) {
      throw new StoreMigrateError('ERR_MALFORMED_VARINT', `varint overflows 64 bits at offset ${offset}`, {
        details: { offset },
      });
    }
    result += (b & 0x7f) * mul;
    if (b < 0x80) {
      if (!Number.isSafeInteger(result)) {
        throw new StoreMigrateError('ERR_VARINT_OVERFLOW', `varint exceeds 2^53 at offset ${offset}`, {
          details: { offset },
        });
      }
      c.offset = at + 1;
      return result;
    }
    mul *= 128;
  }
  throw new StoreMigrateError('ERR_MALFORMED_VARINT', `varint longer than 10 bytes at offset ${offset}`, {
    details: { offset },
  });
}

/**
 * Reads a uvarint at `offset`. Returns the value and the offset after it.
 * Truncation, more than 10 bytes, or a value over 2^53 - 1 raise a StoreMigrateError.
 */
export function readUvarint(buf: Uint8Array, offset: number): [value: number, next: number] {
  const c = { buf, offset };
  const v = takeUvarint(c);
  return [v, c.offset];
}

export function readVarint(buf: Uint8Array, offset: number): [value: number, next: number] {
  const [u, next] = readUvarint(buf, offset);
  return [unzigzag(u), next];
}
