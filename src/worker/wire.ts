import { StoreMigrateError } from '../errors.js';

/**
 * Arrays of byte strings packed into one ArrayBuffer, so a batch of keys or values crosses a
 * thread boundary as one transferred buffer rather than as a structured clone of many small
 * arrays. Layout: u32 count, then per item u32 length (0xffffffff: absent), then the bytes.
 */
const ABSENT = 0xffffffff;

/**
 * Packs `items` into a fresh ArrayBuffer (transferable: nothing else refers to it).
 * @example
 * port.postMessage({ keys: packed }, [packed]) // packed = packBytes([k1, k2])
 */
export function packBytes(items: ReadonlyArray<Uint8Array | undefined>): ArrayBuffer {
  let size = 4 + 4 * items.length;
  for (const b of items) if (b !== undefined) size += b.length;
  const buf = new ArrayBuffer(size);
  const view = new DataView(buf);
  const bytes = new Uint8Array(buf);
  view.setUint32(0, items.length, true);
  let head = 4;
  let body = 4 + 4 * items.length;
  for (const b of items) {
    if (b === undefined) {
      view.setUint32(head, ABSENT, true);
    } else {
      view.setUint32(head, b.length, true);
      bytes.set(b, body);
      body += b.length;
    }
    head += 4;
  }
  return buf;
}

/**
 * The items of a packed buffer, as views into it (no copies).
 * @example
 * const [a, b] = unpackBytes(packBytes([x, undefined])); // a equals x, b is undefined
 */
export function unpackBytes(buf: ArrayBuffer): Array<Uint8Array | undefined> {
  const view = new DataView(buf);
  if (buf.byteLength < 4) throw truncated('too short for a count');
  const n = view.getUint32(0, true);
  let body = 4 + 4 * n;
  if (body > buf.byteLength) throw truncated(`${n} items do not fit in ${buf.byteLength} bytes`);
  const out: Array<Uint8Array | undefined> = new Array(n);
  for (let i = 0; i < n; i++) {
    const len = view.getUint32(4 + 4 * i, true);
    if (len === ABSENT) {
      out[i] = undefined;
      continue;
    }
    if (body + len > buf.byteLength) throw truncated(`item ${i} runs past the end`);
    out[i] = new Uint8Array(buf, body, len);
    body += len;
  }
  return out;
}

function truncated(what: string): StoreMigrateError {
  return new StoreMigrateError('ERR_TRUNCATED', `packed bytes: ${what}`);
}

/** The bytes of `b` in an ArrayBuffer of their own, to transfer (copied only when shared). */
export function ownBuffer(b: Uint8Array): ArrayBuffer {
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer)
    return b.buffer;
  return b.slice().buffer as ArrayBuffer;
}
