import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { KvDb, type LevelDatabase } from '../../src/db/kv-db.js';
import { openDb } from '../../src/db/open-db.js';
import { fromUtf8, utf8 } from '../../src/encoding/bytes.js';
import { isStoreMigrateError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { RemoteLevel } from '../../src/worker/remote-level.js';
import { V1ReadServer } from '../../src/worker/v1-read-server.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A real LevelDB served over a message channel; the async reads work on one thread (getSync needs two). */
async function served() {
  const db = await openDb(join(tempDir('v1-read'), 'db'));
  const batch = [];
  for (let i = 0; i < 2500; i++)
    batch.push({ type: 'put' as const, key: utf8(`k/${String(i).padStart(5, '0')}`), value: utf8(`v${i}`) });
  batch.push({ type: 'put' as const, key: utf8('z'), value: new Uint8Array(0) });
  await db.batch(batch);
  const channel = new MessageChannel();
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const server = new V1ReadServer(db, channel.port1, flag, silentLogger);
  const remote = new RemoteLevel(channel.port2, flag);
  cleanups.push(async () => {
    await server.close();
    channel.port2.close();
    if (db.status === 'open') await db.close();
  });
  return { db, server, kv: new KvDb(remote as unknown as LevelDatabase) };
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('v1 reads across the thread boundary (V1ReadServer ↔ RemoteLevel)', () => {
  it('answers point reads in batches: present, empty and absent values', async () => {
    const { kv } = await served();
    expect(await kv.getMany([utf8('k/00007'), utf8('nope'), utf8('z'), utf8('k/02499')])).toEqual([
      utf8('v7'),
      undefined,
      new Uint8Array(0),
      utf8('v2499'),
    ]);
    expect(await kv.get(utf8('k/01000'))).toEqual(utf8('v1000'));
  });

  it.each([
    { name: 'a prefix, in chunks past 1,000', range: {}, sub: 'k/', first: 'k/00000', count: 2500 },
    {
      name: 'gte/lt',
      range: { gte: utf8('00100'), lt: utf8('00110') },
      sub: 'k/',
      first: 'k/00100',
      count: 10,
    },
    {
      name: 'reverse with a limit',
      range: { reverse: true, limit: 3 },
      sub: 'k/',
      first: 'k/02499',
      count: 3,
    },
  ])('iterates like the database itself: $name', async ({ range, sub, first, count }) => {
    const { kv } = await served();
    const view = kv.sub(utf8(sub));
    const entries: Array<[Uint8Array, Uint8Array]> = [];
    for await (const e of view.iterate(range)) entries.push(e);
    expect(entries.length).toBe(count);
    expect(sub + fromUtf8(entries[0][0])).toBe(first);
    const keys: Uint8Array[] = [];
    for await (const k of view.keys(range)) keys.push(k);
    expect(keys).toEqual(entries.map((e) => e[0]));
  });

  it('reads a whole range in one round trip (entries), as the local database does, and leaves no iterator open', async () => {
    const { db, server, kv } = await served();
    const range = { gte: utf8('00100'), lt: utf8('01600') };
    const remote = await kv.sub(utf8('k/')).entries(range);
    const local = await new KvDb(db).sub(utf8('k/')).entries(range);
    expect(remote.length).toBe(1500);
    expect(remote).toEqual(local);
    expect(fromUtf8(remote[0][0])).toBe('00100');
    // The node thread closed it: nothing is left for close() to clean up.
    expect(server.openIterators).toBe(0);
  });

  it('a read the node thread cannot do reaches the worker as ERR_DB_IO; writes are ERR_READ_ONLY', async () => {
    const { db, kv } = await served();
    await db.close();
    expect(isStoreMigrateError(await caught(kv.get(utf8('k/00001'))), 'ERR_DB_IO')).toBe(true);
    expect(isStoreMigrateError(await caught(kv.entries({ gte: utf8('k/') })), 'ERR_DB_IO')).toBe(true);
    expect(isStoreMigrateError(await caught(kv.put(utf8('a'), utf8('b'))), 'ERR_READ_ONLY')).toBe(true);
  });
});
