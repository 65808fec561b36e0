import { putUvarint, uvarintSize, zigzag } from './varint.js';

/** A growable output buffer for the wire formats (varints, length-prefixed bytes, fixed-width ints). */
export class ByteWriter {
  #buf: Uint8Array;
  #len = 0;

  constructor(initialSize = 64) {
    this.#buf = new Uint8Array(initialSize);
  }

  get length(): number {
    return this.#len;
  }

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let cap = this.#buf.length * 2;
    while (cap < this.#len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }

  uvarint(n: number): this {
    this.#reserve(10);
    this.#len = putUvarint(this.#buf, this.#len, n);
    return this;
  }

  /** Zigzag varint, as Go's binary.PutVarint. */
  varint(n: number): this {
    return this.uvarint(zigzag(n));
  }

  raw(b: Uint8Array): this {
    this.#reserve(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
    return this;
  }

  byte(v: number): this {
    this.#reserve(1);
    this.#buf[this.#len++] = v;
    return this;
  }

  /** uvarint(len(b)) || b */
  bytes(b: Uint8Array): this {
    this.#reserve(uvarintSize(b.length) + b.length);
    this.#len = putUvarint(this.#buf, this.#len, b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
    return this;
  }

  u32be(n: number): this {
    this.#reserve(4);
    writeU32be(this.#buf, this.#len, n);
    this.#len += 4;
    return this;
  }

  u64be(n: number): this {
    this.#reserve(8);
    writeU64be(this.#buf, this.#len, n);
    this.#len += 8;
    return this;
  }

  /** A copy of the written bytes, sized exactly. */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}

export function writeU32be(out: Uint8Array, offset: number, n: number): void {
  out[offset] = n >>> 24;
  out[offset + 1] = (n >>> 16) & 0xff;
  out[offset + 2] = (n >>> 8) & 0xff;
  out[offset + 3] = n & 0xff;
}

export function writeU64be(out: Uint8Array, offset: number, n: number): void {
  const hi = Math.floor(n / 0x1_0000_0000);
  writeU32be(out, offset, hi);
  writeU32be(out, offset + 4, n >>> 0);
}

export function readU64be(b: Uint8Array, offset: number): number {
  const hi = ((b[offset] << 24) | (b[offset + 1] << 16) | (b[offset + 2] << 8) | b[offset + 3]) >>> 0;
  const lo = ((b[offset + 4] << 24) | (b[offset + 5] << 16) | (b[offset + 6] << 8) | b[offset + 7]) >>> 0;
  return hi * 0x1_0000_0000 + lo;
}

export function readU32be(b: Uint8Array, offset: number): number {
  return ((b[offset] << 24) | (b[offset + 1] << 16) | (b[offset + 2] << 8) | b[offset + 3]) >>> 0;
}

export function u64be(n: number): Uint8Array {
  const out = new Uint8Array(8);
  writeU64be(out, 0, n);
  return out;
}
