import type { RangeOptions } from '../db/kv-db.js';
import type { WireError } from '../errors.js';

/** The messages of the v1 read channel between the migration worker and the node thread. */

/** A range as KvDb passes it to abstract-level (full keys). */
export type WireRange = RangeOptions;

export type V1Request =
  /** Point reads: `keys` packed (wire.ts); `sync` asks for the flag to be raised after the reply. */
  | { id: number; op: 'get'; keys: ArrayBuffer; sync: boolean }
  /**
   * The next `n` entries of iterator `it`, opened over `range` on its first call; with `all`,
   * every entry left, and the iterator is closed (one round trip for a short range).
   */
  | { id: number; op: 'next'; it: number; range?: WireRange; values: boolean; n: number; all?: boolean }
  | { id: number; op: 'close'; it: number };

export interface V1Reply {
  id: number;
  /** Packed keys (`next`). */
  keys?: ArrayBuffer;
  /** Packed values (`get`, and `next` of an entries iterator). */
  values?: ArrayBuffer;
  error?: WireError;
}
