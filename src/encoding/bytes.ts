/** Small helpers for Uint8Array keys and values. Everything in the project is Uint8Array. */

const textEncoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true });

export const EMPTY = new Uint8Array(0);

export function utf8(s: string): Uint8Array {
  return textEncoder.encode(s);
}

/** Decodes UTF-8, throwing a TypeError on invalid input so callers can wrap it in their own code. */
export function fromUtf8(b: Uint8Array): string {
  return strictDecoder.decode(b);
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Lexicographic byte order, as LevelDB and Go's bytes.Compare use. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i] - b[i];
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The smallest key greater than every key starting with `prefix`, or undefined if none exists (all 0xff). */
export function prefixEnd(prefix: Uint8Array): Uint8Array | undefined {
  const end = prefix.slice();
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++;
      return end.subarray(0, i + 1);
    }
  }
  return undefined;
}

/** A plain Uint8Array view of a Buffer (or any Uint8Array subclass), without copying. */
export function toPlainBytes(b: Uint8Array): Uint8Array {
  return b.constructor === Uint8Array ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;

/** Parses hex (an optional 0x prefix is accepted). Returns undefined for malformed input. */
export function tryFromHex(s: string): Uint8Array | undefined {
  const h = s.startsWith('0x') || s.startsWith('0X') ? s.slice(2) : s;
  if (!HEX_RE.test(h)) return undefined;
  return toPlainBytes(Buffer.from(h, 'hex'));
}

export function fromHex(s: string): Uint8Array {
  const b = tryFromHex(s);
  if (b === undefined) throw new TypeError(`not a hex string: ${s.slice(0, 40)}`);
  return b;
}
