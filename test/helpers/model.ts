import { compareBytes } from '../../src/encoding/bytes.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** A plain sorted-map model of a key-value state, to check trees and stores against. */
export class Model {
  readonly map = new Map<string, [Uint8Array, Uint8Array]>();

  set(k: Uint8Array, v: Uint8Array): void {
    this.map.set(hex(k), [k, v]);
  }

  remove(k: Uint8Array): boolean {
    return this.map.delete(hex(k));
  }

  get(k: Uint8Array): Uint8Array | undefined {
    return this.map.get(hex(k))?.[1];
  }

  clone(): Model {
    const m = new Model();
    for (const [h, e] of this.map) m.map.set(h, e);
    return m;
  }

  /** Sorted entries within [start, end). */
  range(start?: Uint8Array, end?: Uint8Array, reverse = false): Array<[Uint8Array, Uint8Array]> {
    const out = [...this.map.values()]
      .filter(
        ([k]) =>
          (start === undefined || compareBytes(k, start) >= 0) &&
          (end === undefined || compareBytes(k, end) < 0),
      )
      .sort((a, b) => compareBytes(a[0], b[0]));
    return reverse ? out.reverse() : out;
  }
}

export function entriesHex(entries: Iterable<[Uint8Array, Uint8Array]>): string[] {
  return [...entries].map(([k, v]) => `${hex(k)}=${hex(v)}`);
}
