import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KvDb } from '../../src/db/kv-db.js';
import { openDb } from '../../src/db/open-db.js';
import { toHex, utf8 } from '../../src/encoding/bytes.js';
import { MultiStoreV1 } from '../../src/v1/multi-store-v1.js';
import { changesetKey } from '../../src/v2/home/v2-keys.js';
import { RootStore } from '../../src/v2/root/root-store.js';
import { ChangesetJournal, journalPath } from '../../src/worker/changeset-journal.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { buildV1, Workload } from '../helpers/v1-builder.js';
import { waitFor } from '../helpers/wait-for.js';

const tempDir = useTempDirs();

async function v2At(dir: string): Promise<KvDb> {
  return new KvDb(await openDb(join(dir, 'v2')));
}

describe('ChangesetJournal', () => {
  it('lives beside v2, and fold moves what it holds into the buffer and removes it', async () => {
    const dir = tempDir('journal');
    const v2 = await v2At(dir);
    const path = journalPath(join(dir, 'v2'));
    expect(path).toBe(join(dir, 'v2.journal'));
    const journal = await ChangesetJournal.open(path);
    await journal.put(7, utf8('seven'));
    await journal.put(8, utf8('eight'));
    await journal.put(9, utf8('nine'));
    await journal.delete(8); // the buffer had it
    await journal.close();
    await v2.put(changesetKey(6), utf8('six'));
    expect(await ChangesetJournal.fold(path, v2)).toBe(2);
    expect(existsSync(path)).toBe(false);
    const rows = await v2.entries();
    expect(rows.map(([k, v]) => [toHex(k), Buffer.from(v).toString()])).toEqual([
      [toHex(changesetKey(6)), 'six'],
      [toHex(changesetKey(7)), 'seven'],
      [toHex(changesetKey(9)), 'nine'],
    ]);
    // Nothing left: a second fold has nothing to do.
    expect(await ChangesetJournal.fold(path, v2)).toBe(0);
    await v2.db.close();
  });

  it('refuses a directory that is not a journal: ERR_INVALID_CHANGESET, v2 and the directory untouched', async () => {
    const dir = tempDir('journal-foreign');
    const v2 = await v2At(dir);
    const path = journalPath(join(dir, 'v2'));
    const other = await openDb(path);
    await other.put(utf8('s/k:bank/x'), utf8('not a changeset'));
    await other.close();
    await expect(ChangesetJournal.fold(path, v2)).rejects.toMatchObject({ code: 'ERR_INVALID_CHANGESET' });
    expect(existsSync(path)).toBe(true);
    expect(await v2.entries()).toEqual([]);
    await v2.db.close();
  });

  it('a journal a crash cut off while it was created (no CURRENT) holds nothing and is removed, as is a cut-off removal', async () => {
    const dir = tempDir('journal-cut');
    const v2 = await v2At(dir);
    const path = journalPath(join(dir, 'v2'));
    mkdirSync(path);
    writeFileSync(join(path, 'LOCK'), '');
    writeFileSync(join(path, 'MANIFEST-000001'), 'x');
    mkdirSync(`${path}.removing`);
    writeFileSync(join(`${path}.removing`, '000003.log'), 'x');
    expect(await ChangesetJournal.fold(path, v2)).toBe(0);
    expect(existsSync(path)).toBe(false);
    expect(existsSync(`${path}.removing`)).toBe(false);
    // Without CURRENT but with a file LevelDB never writes: not ours, so kept.
    mkdirSync(path);
    writeFileSync(join(path, 'notes.txt'), 'mine');
    await expect(ChangesetJournal.fold(path, v2)).rejects.toMatchObject({ code: 'ERR_INVALID_CHANGESET' });
    expect(existsSync(join(path, 'notes.txt'))).toBe(true);
    await v2.db.close();
  });

  it('a file where the journal goes is ERR_DB_OPEN', async () => {
    const dir = tempDir('journal-file');
    const v2 = await v2At(dir);
    const path = journalPath(join(dir, 'v2'));
    writeFileSync(path, 'not a database');
    await expect(ChangesetJournal.fold(path, v2)).rejects.toMatchObject({ code: 'ERR_DB_OPEN' });
    await expect(ChangesetJournal.open(path)).rejects.toMatchObject({ code: 'ERR_DB_OPEN' });
    expect(await v2.entries()).toEqual([]);
    await v2.db.close();
  });
});

describe('RootStore and a journal a crash left', () => {
  it('folds it into the buffer at open: the migration resumes instead of starting over, hashes intact', async () => {
    const dir = tempDir('journal-root');
    const v1Path = join(dir, 'application.db');
    const v2Path = join(dir, 'v2');
    const refPath = join(dir, 'ref.db');
    const STORES = ['acc', 'bank'];
    const db = await openDb(v1Path);
    await buildV1(db, { stores: STORES, keysPerStore: 500, versions: 20 });
    await db.close();
    cpSync(v1Path, refPath, { recursive: true });
    const refDb = await openDb(refPath);
    const ref = await MultiStoreV1.open(refDb);
    const w = new Workload(STORES, 600, 5);
    const commitBoth = async (rs: RootStore, n: number) => {
      for (let i = 0; i < n; i++) {
        const cs = w.block(20);
        const ci = await rs.commit(cs);
        expect(toHex(ci.appHash)).toBe(toHex((await ref.commit(cs)).appHash));
      }
    };
    {
      const [v1Db, v2Db] = [await openDb(v1Path), await openDb(v2Path)];
      const rs = await RootStore.open(v1Db, v2Db, { postponeSwitch: true });
      await waitFor(() => rs.migratedVersion === 20, 30_000);
      rs.pause(); // 21..23 stay buffered, not synced
      await commitBoth(rs, 3);
      await rs.close();
      // As a crash after the journal's put and before the buffer's: 23 only in the journal.
      const v2 = new KvDb(v2Db);
      const bytes = (await v2.get(changesetKey(23)))!;
      await v2.del(changesetKey(23));
      const journal = await ChangesetJournal.open(journalPath(v2Path));
      await journal.put(23, bytes);
      await journal.close();
      await v1Db.close();
      await v2Db.close();
    }
    const [v1Db, v2Db] = [await openDb(v1Path), await openDb(v2Path)];
    try {
      const rs = await RootStore.open(v1Db, v2Db, { migrate: false });
      expect(existsSync(journalPath(v2Path))).toBe(false);
      // Resumed, not started over: without the journal, 23 would be lost and v2 cleared.
      expect(rs.migratedVersion).toBe(20);
      expect(rs.manager.buffer.last).toBe(23);
      rs.startMigration();
      await waitFor(() => rs.migratedVersion === 23, 30_000);
      await commitBoth(rs, 2);
      expect(rs.switchedAtVersion).toBeDefined();
      await rs.close();
    } finally {
      await v1Db.close();
      await v2Db.close();
      await refDb.close();
    }
  });
});

describe('RootStore option changesetJournal', () => {
  it.each([
    { changesetJournal: true, journal: true },
    { changesetJournal: false, journal: false },
  ])(
    'changesetJournal $changesetJournal: a journal beside v2 while the worker migrates ($journal), none after close; hashes intact',
    async ({ changesetJournal, journal }) => {
      const dir = tempDir('journal-option');
      const v1Path = join(dir, 'application.db');
      const v2Path = join(dir, 'v2');
      const db = await openDb(v1Path);
      await buildV1(db, { stores: ['acc', 'bank'], keysPerStore: 1500, versions: 10 });
      await db.close();
      cpSync(v1Path, join(dir, 'ref.db'), { recursive: true });
      const refDb = await openDb(join(dir, 'ref.db'));
      const ref = await MultiStoreV1.open(refDb);
      const [v1Db, v2Db] = [await openDb(v1Path), await openDb(v2Path)];
      const w = new Workload(['acc', 'bank'], 1600, 3);
      try {
        const rs = await RootStore.open(v1Db, v2Db, { worker: true, changesetJournal, throttle: 3000 });
        for (let i = 0; i < 60 && rs.switchedAtVersion === undefined; i++) {
          const cs = w.block(30);
          expect(toHex((await rs.commit(cs)).appHash)).toBe(toHex((await ref.commit(cs)).appHash));
          if (i === 2) expect(existsSync(journalPath(v2Path))).toBe(journal);
          await new Promise((r) => setTimeout(r, 20));
        }
        expect(rs.switchedAtVersion).toBeDefined();
        await rs.close();
        expect(existsSync(journalPath(v2Path))).toBe(false);
      } finally {
        await v1Db.close();
        await v2Db.close();
        await refDb.close();
      }
    },
  );
});
