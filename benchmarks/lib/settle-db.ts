import type { ClassicLevel } from 'classic-level';
import { openDb } from '../../src/db/open-db.js';

/**
 * Brings a freshly generated database into the shape a long-running node's has. Version 1
 * is one huge batch; LevelDB still holds it in its log when the generator closes the
 * database (closing abandons the memtable flush), so every later open would replay
 * gigabytes of log into a memtable, using that much native memory and then compacting one
 * giant level-0 table in the background of the measurement. Opening once writes the log
 * out as a table; compacting the whole key range leaves ordinary 16 MB tables in the levels.
 */
export async function settleDb(path: string): Promise<number> {
  const t = performance.now();
  const db = (await openDb(path, { createIfMissing: false })) as unknown as ClassicLevel<
    Uint8Array,
    Uint8Array
  >;
  try {
    await db.compactRange(Uint8Array.of(0x00), new Uint8Array(64).fill(0xff));
  } finally {
    await db.close();
  }
  return performance.now() - t;
}
