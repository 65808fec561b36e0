import type { ClassicLevel } from 'classic-level';
import { openDb } from '../../src/db/open-db.js';
import { utf8 } from '../../src/encoding/bytes.js';

/** Key ranges of a v2 directory as src/cli/open-v2.ts lays it out. */
export const V2_PARTS: Record<string, [string, string]> = {
  /** StateCommitment trees (node-key layout), `s/k:<store>/...`. */
  scTrees: ['s/k:', 's/k;'],
  /** StateCommitment commit infos and restore checkpoints, `c/...`. */
  scMeta: ['c/', 'c0'],
  /** StateStorage rows and metadata, `ss/...`. */
  ss: ['ss/', 'ss0'],
  /** Migration state and buffered changesets, `m/...`. */
  migration: ['m/', 'm0'],
};

/**
 * LevelDB's own estimate of the bytes on disk of each key range (compressed, in table
 * files). Opens the closed database again: on open LevelDB writes its log into a table, so
 * nothing is left in a memtable, where approximateSize cannot see it.
 */
export async function approximatePartSizes(
  path: string,
  parts: Record<string, [string, string]>,
): Promise<Record<string, number>> {
  const db = (await openDb(path, { createIfMissing: false })) as unknown as ClassicLevel<
    Uint8Array,
    Uint8Array
  >;
  try {
    const out: Record<string, number> = {};
    for (const [name, [start, end]] of Object.entries(parts)) {
      out[name] = await db.approximateSize(utf8(start), utf8(end));
    }
    return out;
  } finally {
    await db.close();
  }
}
