import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { describe, expect, it } from 'vitest';
import { KvDb } from '../../src/db/kv-db.js';
import { openDb } from '../../src/db/open-db.js';
import { useTempDirs } from '../helpers/temp-dir.js';

// goleveldb (Go nodes) drops log records below the MANIFEST's last sequence, so what a Go node
// reopens must have nothing left in the log: closing flushes the memtable into a table.
const tempDir = useTempDirs();

function logBytes(dir: string): number {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.log') && f !== 'LOG')
    .reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

async function writeSome(db: { put(k: Uint8Array, v: Uint8Array): Promise<void> }): Promise<void> {
  for (let i = 0; i < 500; i++)
    await db.put(new Uint8Array([1, i >> 8, i & 0xff]), new Uint8Array(100).fill(i));
}

/** Reopens `dir` and finds writeSome's last write. */
async function expectLastWrite(dir: string): Promise<void> {
  const again = await openDb(dir, { createIfMissing: false });
  expect(new Uint8Array((await again.get(new Uint8Array([1, 1, 243])))!)).toEqual(
    new Uint8Array(100).fill(499 & 0xff),
  );
  await again.close();
}

describe('openDb closes LevelDB the way a Go node can reopen it', () => {
  it('leaves no records in the log after close, and keeps every write', async () => {
    const dir = join(tempDir('flush'), 'db');
    const db = await openDb(dir);
    await writeSome(db);
    await db.close();
    expect(logBytes(dir)).toBe(0);
    await expectLastWrite(dir);
  });

  it('where a plain classic-level close leaves them in the log (what goleveldb may skip)', async () => {
    const dir = join(tempDir('plain'), 'db');
    const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
    await writeSome(db);
    await db.close();
    expect(logBytes(dir)).toBeGreaterThan(50_000);
  });

  it('flushOnClose: false closes without the flush (the migration worker: this process reopens next)', async () => {
    const dir = join(tempDir('noflush'), 'db');
    const db = await openDb(dir, { flushOnClose: false });
    await writeSome(db);
    await db.close();
    expect(logBytes(dir)).toBeGreaterThan(50_000);
    // C++ LevelDB replays its log: nothing is lost for the next opener in this process.
    await expectLastWrite(dir);
    expect(logBytes(dir)).toBe(0);
  });
});

describe('the databases openDb opens', () => {
  it('still write through the native batch path (flushing on close changes nothing else)', async () => {
    const db = await openDb(join(tempDir('native'), 'db'));
    const batch = new KvDb(db).batch();
    batch.put(new Uint8Array([1]), new Uint8Array([2]));
    expect(batch.isNative).toBe(true);
    await batch.write();
    await db.close();
  });
});
