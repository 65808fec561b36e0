import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KvDb } from '../../src/db/kv-db.js';
import { utf8 } from '../../src/encoding/bytes.js';
import { StoreMigrateError } from '../../src/errors.js';
import { MutableTree } from '../../src/iavl/mutable-tree.js';
import { FaultyLevel, InjectedFault, touches } from '../helpers/faulty-level.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function codeOf(p: Promise<unknown>): Promise<{ code: string; cause: unknown }> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(StoreMigrateError);
    return { code: (err as StoreMigrateError).code, cause: (err as StoreMigrateError).cause };
  }
  throw new Error('expected a failure');
}

describe('FaultyLevel (the fault-injecting test database)', () => {
  it('behaves as a plain database without faults: reads, writes, batches, iterators, getSync, trees', async () => {
    const db = await FaultyLevel.open(join(tempDir('fl'), 'db'));
    const kv = new KvDb(db);
    expect(kv.supportsGetSync).toBe(true);
    await kv.put(utf8('a'), utf8('1'));
    const b = kv.batch();
    b.put(utf8('b'), utf8('2'));
    b.put(utf8('c'), utf8('3'));
    await b.write();
    expect(await kv.get(utf8('b'))).toEqual(utf8('2'));
    expect(kv.getSync(utf8('c'))).toEqual(utf8('3'));
    expect(await kv.getMany([utf8('a'), utf8('x')])).toEqual([utf8('1'), undefined]);
    expect([...(await collect(kv.keys({ reverse: true })))].map((k) => Buffer.from(k).toString())).toEqual([
      'c',
      'b',
      'a',
    ]);
    expect((await collect(kv.iterate({ gt: utf8('a'), limit: 1 }))).length).toBe(1);
    expect(await kv.clear({ gte: utf8('b') })).toBe(2);
    const t = new MutableTree(db, { layout: 'node-key', prefix: utf8('t/') });
    await t.loadVersion();
    t.set(utf8('k'), utf8('v'));
    await t.saveVersion();
    const again = new MutableTree(db, { layout: 'node-key', prefix: utf8('t/') });
    await again.loadVersion();
    expect(again.get(utf8('k'))).toEqual(utf8('v'));
    await db.close();
  });

  it('fails the nth matching write once, or every one from the nth on, as ERR_DB_IO with the cause', async () => {
    const db = await FaultyLevel.open(join(tempDir('fl'), 'db'));
    const kv = new KvDb(db);
    const once = db.failWrite({ nth: 2, kind: 'ENOSPC', match: touches('x/') });
    await kv.put(utf8('y/1'), utf8('1')); // does not match
    await kv.put(utf8('x/1'), utf8('1')); // first match
    const e = await codeOf(kv.put(utf8('x/2'), utf8('2')));
    expect(e.code).toBe('ERR_DB_IO');
    expect(e.cause).toBeInstanceOf(InjectedFault);
    expect((e.cause as InjectedFault).code).toBe('ENOSPC');
    await kv.put(utf8('x/3'), utf8('3'));
    expect(once.fired).toBe(1);
    expect(await kv.get(utf8('x/2'))).toBeUndefined();
    const always = db.failWrite({ nth: 1, times: Number.POSITIVE_INFINITY });
    for (let i = 0; i < 3; i++) expect((await codeOf(kv.put(utf8('z'), utf8('z')))).code).toBe('ERR_DB_IO');
    const b = kv.batch();
    b.put(utf8('z'), utf8('z'));
    expect((await codeOf(b.write())).code).toBe('ERR_DB_IO');
    always.remove();
    await kv.put(utf8('z'), utf8('z'));
    await db.close();
  });

  it('fails reads (async, sync and iterator steps) and adds delays', async () => {
    const db = await FaultyLevel.open(join(tempDir('fl'), 'db'));
    const kv = new KvDb(db);
    await kv.put(utf8('a'), utf8('1'));
    db.failRead({ nth: 1 });
    expect((await codeOf(kv.get(utf8('a')))).code).toBe('ERR_DB_IO');
    db.failRead({ nth: 1, match: (i) => i.method === 'getSync' });
    expect(() => kv.getSync(utf8('a'))).toThrowError(StoreMigrateError);
    db.failRead({ nth: 1, match: (i) => i.method.startsWith('iterator') });
    expect((await codeOf(collect(kv.iterate()))).code).toBe('ERR_DB_IO');
    db.setDelays({ writes: 30, reads: 10 });
    const t0 = performance.now();
    await kv.put(utf8('b'), utf8('2'));
    expect(kv.getSync(utf8('b'))).toEqual(utf8('2'));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(35);
    db.setDelays({});
    await db.close();
  });
});
