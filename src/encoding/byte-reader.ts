import { StoreMigrateError } from '../errors.js';
import { readU32be, readU64be } from './byte-writer.js';
import { takeUvarint, unzigzag } from './varint.js';

/** A cursor over a byte array. Every read checks bounds and raises a typed error on truncation. */
export class ByteReader {
  readonly buf: Uint8Array;
  offset: number;

  constructor(buf: Uint8Array, offset = 0) {
    this.buf = buf;
    this.offset = offset;
  }

  get remaining(): number {
    return this.buf.length - this.offset;
  }

  uvarint(): number {
    return takeUvarint(this);
  }

  varint(): number {
    return unzigzag(this.uvarint());
  }

  #need(n: number, what: string): void {
    if (this.offset + n > this.buf.length) {
      throw new StoreMigrateError(
        'ERR_TRUNCATED',
        `${what}: need ${n} bytes at offset ${this.offset}, have ${this.buf.length - this.offset}`,
        { details: { offset: this.offset, need: n } },
      );
    }
  }

  /** Length-prefixed bytes. The result is a view into the input, not a copy. */
  bytes(): Uint8Array {
    const start = this.offset;
    const n = this.uvarint();
    if (n > this.buf.length - this.offset) {
      this.offset = start;
      throw new StoreMigrateError(
        'ERR_TRUNCATED',
        `length prefix ${n} runs past the end at offset ${start}`,
        {
          details: { offset: start, length: n },
        },
      );
    }
    const out = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  raw(n: number): Uint8Array {
    this.#need(n, 'raw bytes');
    const out = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  byte(): number {
    this.#need(1, 'byte');
    return this.buf[this.offset++];
  }

  u32be(): number {
    this.#need(4, 'u32');
    const v = readU32be(this.buf, this.offset);
    this.offset += 4;
    return v;
  }

  u64be(): number {
    this.#need(8, 'u64');
    const v = readU64be(this.buf, this.offset);
    this.offset += 8;
    return v;
  }

  /** Fails when bytes are left over: every format here is exact-length. */
  end(what = 'input'): void {
    if (this.offset !== this.buf.length) {
      throw new StoreMigrateError(
        'ERR_TRAILING_BYTES',
        `${what}: ${this.buf.length - this.offset} trailing bytes at offset ${this.offset}`,
        { details: { offset: this.offset } },
      );
    }
  }
}
