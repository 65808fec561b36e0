import { join } from 'node:path';
import { MemoryLevel } from 'memory-level';
import { describe, expect, it } from 'vitest';
import { KvDb, type LevelDatabase } from '../../src/db/kv-db.js';
import { openDb } from '../../src/db/open-db.js';
import { arenaAlloc } from '../../src/encoding/byte-arena.js';
import { toHex, utf8 } from '../../src/encoding/bytes.js';
import { StoreMigrateError } from '../../src/errors.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();

const backends: Array<[string, () => Promise<LevelDatabase>]> = [
  ['classic-level', () => openDb(join(tempDir('kv'), 'db'))],
  ['memory-level', async () => new MemoryLevel({ keyEncoding: 'view', valueEncoding: 'view' })],
];

describe.each(backends)('KvDb on %s', (_name, open) => {
  it('writes batch keys and values that are views into shared arena chunks', async () => {
    const db = await open();
    const kv = new KvDb(db, utf8('p/'));
    const batch = kv.batch();
    const expected = new Map<string, string>();
    // Enough to span several 256 KiB chunks, plus one value too large for the arena.
    for (let i = 0; i < 5000; i++) {
      const body = utf8(`key-${i}`);
      const k = kv.batchKey(0x6e, body);
      const value = arenaAlloc(i === 4999 ? 20_000 : 60 + (i % 100));
      value.fill(i % 251);
      batch.put(k, value);
      expected.set(toHex(body), toHex(value));
    }
    // Small arrays really do share one backing store.
    const a = arenaAlloc(8);
    const b = arenaAlloc(8);
    expect(a.buffer).toBe(b.buffer);
    await batch.write();
    for (const [bodyHex, valueHex] of expected) {
      const body = Buffer.from(bodyHex, 'hex');
      const got = kv.getSync(new Uint8Array([0x6e, ...body]));
      expect(got && toHex(got)).toBe(valueHex);
    }
    await db.close();
  });

  it('isolates prefixes and returns plain Uint8Arrays', async () => {
    const db = await open();
    const a = new KvDb(db, utf8('a/'));
    const ab = new KvDb(db, utf8('a/b'));
    await a.put(utf8('x'), utf8('1'));
    await ab.put(utf8('y'), utf8('2'));
    await new KvDb(db, utf8('b/')).put(utf8('x'), utf8('3'));
    const v = await a.get(utf8('x'));
    expect(v?.constructor).toBe(Uint8Array);
    expect(toHex(v!)).toBe(toHex(utf8('1')));
    expect(a.getSync(utf8('x'))?.constructor).toBe(Uint8Array);
    const keys: string[] = [];
    for await (const k of a.keys()) keys.push(Buffer.from(k).toString());
    expect(keys).toEqual(['by', 'x']);
    expect(await a.get(utf8('missing'))).toBeUndefined();
    expect(a.getSync(utf8('missing'))).toBeUndefined();
    // getManyFull takes keys that carry the prefix already (batchKey makes them).
    const full = await a.getManyFull([
      a.batchKey(0x78, new Uint8Array(0)),
      a.batchKey(0x62, utf8('y')),
      utf8('x'),
    ]);
    expect(full.map((v) => (v ? Buffer.from(v).toString() : null))).toEqual(['1', '2', null]);
    expect(full[0]?.constructor).toBe(Uint8Array);
    await db.close();
  });

  it('iterates ranges in both directions with 0x00 and 0xff keys', async () => {
    const db = await open();
    const kv = new KvDb(db, new Uint8Array([0xff]));
    const keys = [[0], [0, 0], [1], [1, 0xff], [0xff], [0xff, 0xff]].map((k) => new Uint8Array(k));
    const batch = kv.batch();
    for (const k of keys) await kv.put(k, k, batch);
    await batch.write();
    const all: string[] = [];
    for await (const [k, v] of kv.iterate()) {
      expect(toHex(k)).toBe(toHex(v));
      all.push(toHex(k));
    }
    expect(all).toEqual(['00', '0000', '01', '01ff', 'ff', 'ffff']);
    const rev: string[] = [];
    for await (const [k] of kv.iterate({
      gte: new Uint8Array([1]),
      lt: new Uint8Array([0xff, 0xff]),
      reverse: true,
    }))
      rev.push(toHex(k));
    expect(rev).toEqual(['ff', '01ff', '01']);
    const many = await kv.getMany([new Uint8Array([1]), new Uint8Array([2]), new Uint8Array([0xff, 0xff])]);
    expect(many.map((v) => (v ? toHex(v) : null))).toEqual(['01', null, 'ffff']);
    expect(await kv.clear({ lt: new Uint8Array([1]) })).toBe(2);
    expect(await kv.get(new Uint8Array([0]))).toBeUndefined();
    expect(await kv.get(new Uint8Array([1]))).toBeDefined();
    await db.close();
  });

  it('writes a batch atomically and refuses to write it twice', async () => {
    const db = await open();
    const kv = new KvDb(db);
    const batch = kv.batch();
    await kv.put(utf8('k1'), utf8('v1'), batch);
    await kv.del(utf8('k2'), batch);
    expect(batch.length).toBe(2);
    expect(await kv.get(utf8('k1'))).toBeUndefined();
    await batch.write();
    expect(await kv.get(utf8('k1'))).toBeDefined();
    await expect(batch.write()).rejects.toBeInstanceOf(StoreMigrateError);
    expect(() => batch.put(utf8('k3'), utf8('v3'))).toThrow(StoreMigrateError);
    await db.close();
  });

  it('counts operations and bytes, and a discarded batch writes nothing', async () => {
    const db = await open();
    const kv = new KvDb(db);
    const batch = kv.batch();
    batch.put(utf8('abc'), utf8('12345'));
    batch.del(utf8('xy'));
    expect([batch.length, batch.byteLength]).toEqual([2, 10]);
    await batch.discard();
    expect(() => batch.put(utf8('k'), utf8('v'))).toThrow(StoreMigrateError);
    await expect(batch.write()).rejects.toMatchObject({ code: 'ERR_DB_IO' });
    expect(await kv.get(utf8('abc'))).toBeUndefined();
    await db.close();
  });

  it('keeps batches apart when they are open together, discarded, or written one after another', async () => {
    const db = await open();
    const kv = new KvDb(db);
    // A discarded batch's operations never reach a later batch.
    const dropped = kv.batch();
    dropped.put(utf8('dropped'), utf8('x'));
    await dropped.discard();
    // Two batches filled at once, written in the other order.
    const first = kv.batch();
    const second = kv.batch();
    first.put(utf8('first'), utf8('1'));
    second.put(utf8('second'), utf8('2'));
    await second.write();
    expect(await kv.get(utf8('first'))).toBeUndefined();
    await first.write();
    // Many batches in a row, each with its own keys only.
    for (let i = 0; i < 10; i++) {
      const b = kv.batch();
      b.put(utf8(`row-${i}`), utf8(`v${i}`));
      if (i > 0) b.del(utf8(`row-${i - 1}`));
      await b.write();
    }
    const keys: string[] = [];
    for await (const k of kv.keys()) keys.push(new TextDecoder().decode(k));
    expect(keys.sort()).toEqual(['first', 'row-9', 'second']);
    await db.close();
  });

  it('fails a batch whose database closed before it was written, with ERR_DB_IO', async () => {
    const db = await open();
    const kv = new KvDb(db);
    const batch = kv.batch();
    batch.put(utf8('k1'), utf8('v1'));
    await db.close();
    await expect(batch.write()).rejects.toMatchObject({ code: 'ERR_DB_IO' });
  });
});

describe('openDb', () => {
  it('refuses a directory that does not exist when asked not to create', async () => {
    await expect(openDb(join(tempDir('kv'), 'nope'), { createIfMissing: false })).rejects.toMatchObject({
      code: 'ERR_NOT_FOUND',
    });
  });

  it('reports a locked database as ERR_DB_OPEN', async () => {
    const path = join(tempDir('kv'), 'db');
    const db = await openDb(path);
    await expect(openDb(path)).rejects.toMatchObject({ code: 'ERR_DB_OPEN' });
    await db.close();
  });

  it('turns a failed read on a closed database into ERR_DB_IO', async () => {
    const db = await openDb(join(tempDir('kv'), 'db'));
    await db.close();
    await expect(new KvDb(db).get(utf8('x'))).rejects.toMatchObject({ code: 'ERR_DB_IO' });
  });
});
