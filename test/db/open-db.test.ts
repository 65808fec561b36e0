import { randomFillSync } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ClassicLevel } from 'classic-level';
import { describe, expect, it } from 'vitest';
import { openDb } from '../../src/db/open-db.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
const MiB = 1024 * 1024;

/**
 * Sizes of the table files after writing 6 MiB that does not compress twice over (so that the
 * compaction merges, rather than moves, the flushed files) and compacting it all.
 */
async function tableSizes(maxFileSize: number | undefined): Promise<number[]> {
  const dir = join(tempDir('tables'), 'db');
  const db = (await openDb(dir, { maxFileSize })) as unknown as ClassicLevel<Uint8Array, Uint8Array>;
  for (let b = 0; b < 12; b++) {
    const batch = db.batch();
    for (let i = 0; i < 256; i++) {
      batch.put(new Uint8Array([b % 6, i]), randomFillSync(new Uint8Array(4096)));
    }
    await batch.write();
  }
  await db.compactRange(new Uint8Array([0]), new Uint8Array([255]));
  await db.close();
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ldb'))
    .map((f) => statSync(join(dir, f)).size);
}

describe('openDb', () => {
  // The migration worker opens v2 with 2 MiB files so that its compactions stay short: LevelDB
  // runs the node's v1 compactions on the same background thread (migration-worker.ts).
  it('writes table files of at most maxFileSize, and of 16 MiB by default', async () => {
    const small = await tableSizes(1 * MiB);
    expect(small.length).toBeGreaterThanOrEqual(5);
    expect(Math.max(...small)).toBeLessThan(1.2 * MiB);

    const byDefault = await tableSizes(undefined);
    expect(byDefault).toHaveLength(1);
    expect(byDefault[0]).toBeGreaterThan(6 * MiB);
  });
});
