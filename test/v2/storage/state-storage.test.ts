import { join } from 'node:path';
import { MemoryLevel } from 'memory-level';
import { describe, expect, it } from 'vitest';
import { KvDb, type LevelDatabase } from '../../../src/db/kv-db.js';
import { openDb } from '../../../src/db/open-db.js';
import { compareBytes, toHex, utf8 } from '../../../src/encoding/bytes.js';
import type { Changeset, KVPair } from '../../../src/encoding/changeset.js';
import { type RestoreLeaf, StateStorage } from '../../../src/v2/storage/state-storage.js';
import { entriesHex, Model } from '../../helpers/model.js';
import { Rng, trickyKeys } from '../../helpers/random.js';
import { useTempDirs } from '../../helpers/temp-dir.js';

const tempDir = useTempDirs();

const backends: Array<[string, () => Promise<LevelDatabase>]> = [
  ['classic-level', () => openDb(join(tempDir('ss'), 'db'))],
  ['memory-level', async () => new MemoryLevel({ keyEncoding: 'view', valueEncoding: 'view' })],
];

const hex = (b: Uint8Array | undefined) => (b === undefined ? 'none' : toHex(b));
const bytes = (...xs: number[]) => new Uint8Array(xs);
const set = (key: Uint8Array, value: Uint8Array): KVPair => ({ key, value });
const del = (key: Uint8Array): KVPair => ({ key, remove: true });
const cs = (...changes: Array<[string, KVPair[]]>): Changeset => ({
  changes: changes.map(([store, pairs]) => ({ store, pairs })),
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Every row of the database, prefixes and metadata included. */
async function dump(db: LevelDatabase): Promise<string[]> {
  return entriesHex(await collect(new KvDb(db).iterate()));
}

async function opened(db: LevelDatabase | KvDb, prefix?: Uint8Array): Promise<StateStorage> {
  const ss = await StateStorage.open(db, { prefix });
  return ss;
}

/** Counts the data rows (key starting with 'd', no prefix) that the database is asked to put. */
function countDataPuts(db: LevelDatabase): () => number {
  let n = 0;
  // A prewrite hook sees every operation of every batch, whichever write path is taken.
  db.hooks.prewrite.add((op: { type: string; key: Uint8Array }) => {
    if (op.type === 'put' && op.key[0] === 0x64) n++;
  });
  return () => n;
}

interface History {
  stores: string[];
  keys: Uint8Array[];
  first: number;
  changesets: Array<[number, Changeset]>;
  /** The state of each store at each version. */
  snapshots: Map<number, Map<string, Model>>;
  /** The rows each (store, key) gets: one per version that touches it (tombstone or not). */
  rows: Map<string, Array<{ version: number; tombstone: boolean }>>;
}

/** Seeded random changesets with tricky keys, empty values, deletes and repeated keys. */
function makeHistory(seed: number, versions: number, first = 1): History {
  const rng = new Rng(seed);
  const stores = ['b', 'bank', 'ba', 'a\u0000b'];
  const keys = trickyKeys(rng, 40);
  const state = new Map(stores.map((s) => [s, new Model()]));
  const h: History = { stores, keys, first, changesets: [], snapshots: new Map(), rows: new Map() };
  for (let v = first; v < first + versions; v++) {
    const changes: Array<[string, KVPair[]]> = [];
    for (const store of stores) {
      if (v !== first && rng.int(4) === 0) continue;
      const pairs: KVPair[] = [];
      const n = 1 + rng.int(8);
      const last = new Map<string, boolean>();
      for (let i = 0; i < n; i++) {
        const key = rng.pick(keys);
        if (rng.int(10) < 3) {
          pairs.push(del(key));
          state.get(store)!.remove(key);
          last.set(toHex(key), true);
        } else {
          const value = rng.int(4) === 0 ? new Uint8Array(0) : rng.bytes(1 + rng.int(8));
          pairs.push(set(key, value));
          state.get(store)!.set(key, value);
          last.set(toHex(key), false);
        }
      }
      for (const [k, tombstone] of last) {
        const id = `${store}/${k}`;
        if (!h.rows.has(id)) h.rows.set(id, []);
        h.rows.get(id)!.push({ version: v, tombstone });
      }
      changes.push([store, pairs]);
    }
    h.changesets.push([v, cs(...changes)]);
    h.snapshots.set(v, new Map([...state].map(([s, m]) => [s, m.clone()])));
  }
  return h;
}

async function applyHistory(ss: StateStorage, h: History): Promise<void> {
  for (const [v, c] of h.changesets) await ss.applyChangeset(v, c);
}

/** Point reads of every pooled key and a full scan of every store at `version`, against the model. */
async function expectVersion(ss: StateStorage, h: History, version: number): Promise<void> {
  const snap = h.snapshots.get(version)!;
  const got: string[] = [];
  const want: string[] = [];
  for (const store of h.stores) {
    const model = snap.get(store)!;
    for (const key of h.keys) {
      const value = await ss.get(store, key, version);
      expect(value === undefined || value.constructor === Uint8Array).toBe(true);
      got.push(`${store}/${hex(key)}=${hex(value)}:${await ss.has(store, key, version)}`);
      const m = model.get(key);
      want.push(`${store}/${hex(key)}=${hex(m)}:${m !== undefined}`);
    }
    got.push(`${store}:${entriesHex(await collect(ss.iterate(store, version))).join(',')}`);
    want.push(`${store}:${entriesHex(model.range()).join(',')}`);
  }
  expect(got, `version ${version}`).toEqual(want);
}

/** Leaves of a random state, sorted by store name (UTF-8 bytes) then key. */
function makeLeaves(seed: number, perStore: number): RestoreLeaf[] {
  const rng = new Rng(seed);
  const leaves: RestoreLeaf[] = [];
  for (const store of ['acc', 'bank', 'bank\u0000x', 'z\uffff', 'z\u{10000}']) {
    for (const key of trickyKeys(rng, perStore)) {
      leaves.push({ store, key, value: rng.int(5) === 0 ? new Uint8Array(0) : rng.bytes(1 + rng.int(24)) });
    }
  }
  return leaves.sort((a, b) => compareBytes(utf8(a.store), utf8(b.store)) || compareBytes(a.key, b.key));
}

function* throwAfter<T>(items: T[], n: number, err: Error): Generator<T> {
  for (let i = 0; i < items.length; i++) {
    if (i === n) throw err;
    yield items[i];
  }
}

async function* asAsync<T>(items: Iterable<T>): AsyncGenerator<T> {
  for (const x of items) yield x;
}

describe.each(backends)('StateStorage on %s', (_name, open) => {
  it('reads every version exactly as the model, point and range, in both directions', async () => {
    const db = await open();
    const ss = await opened(db);
    expect([ss.latestVersion, ss.earliestVersion]).toEqual([0, 0]);
    const h = makeHistory(1, 30);
    await applyHistory(ss, h);
    expect([ss.latestVersion, ss.earliestVersion]).toEqual([30, 1]);
    for (let v = 1; v <= 30; v++) await expectVersion(ss, h, v);

    const rng = new Rng(99);
    const bound = () => {
      const r = rng.int(4);
      return r === 0 ? undefined : r === 1 ? rng.bytes(1 + rng.int(3)) : rng.pick(h.keys);
    };
    for (let v = 1; v <= 30; v += 4) {
      for (const store of h.stores) {
        const model = h.snapshots.get(v)!.get(store)!;
        for (let i = 0; i < 6; i++) {
          const start = bound();
          const end = bound();
          for (const reverse of [false, true]) {
            const got = await collect(ss.iterate(store, v, { start, end }, { reverse }));
            expect(entriesHex(got), `v${v} ${store} [${hex(start)}, ${hex(end)}) rev=${reverse}`).toEqual(
              entriesHex(model.range(start, end, reverse)),
            );
          }
        }
      }
    }
    // Bounds given as explicit undefined, and an empty store.
    const m = h.snapshots.get(30)!.get('bank')!;
    expect(entriesHex(await collect(ss.iterate('bank', 30, {}, { reverse: true })))).toEqual(
      entriesHex(m.range(undefined, undefined, true)),
    );
    expect(await collect(ss.iterate('nope', 30))).toEqual([]);
    // Stopping early closes the iterator cleanly.
    for await (const _ of ss.iterate('bank', 30)) break;
    expect(await ss.stores()).toEqual(['a\u0000b', 'b', 'ba', 'bank']);

    // A fresh instance over the same database reads the same metadata and data.
    const again = await opened(db);
    expect([again.latestVersion, again.earliestVersion]).toEqual([30, 1]);
    await expectVersion(again, h, 17);
    await db.close();
  });

  it('keeps tombstones apart from empty values, and the last pair for a key wins', async () => {
    const db = await open();
    const ss = await opened(db);
    const k = bytes(0x00);
    const k2 = bytes(0x00, 0x00);
    await ss.applyChangeset(1, cs(['s', [set(k, bytes(1)), set(k2, bytes(2))]]));
    await ss.applyChangeset(2, cs(['s', [del(k)]]));
    await ss.applyChangeset(3, cs(['s', [set(k, bytes())]]));
    await ss.applyChangeset(4, cs(['s', [del(k), del(k2)]]));
    await ss.applyChangeset(5, cs(['s', [set(k, bytes(5))]]));
    await ss.applyChangeset(6, cs(['s', [set(k, bytes(6)), del(k), set(k2, bytes(7)), set(k2, bytes(8))]]));
    await ss.applyChangeset(7, cs(['s', [del(k2)]], ['s', [set(k2, bytes(9))]]));
    const at = async (v: number) => [hex(await ss.get('s', k, v)), hex(await ss.get('s', k2, v))];
    expect(await at(1)).toEqual(['01', '02']);
    expect(await at(2)).toEqual(['none', '02']);
    expect(await at(3)).toEqual(['', '02']);
    expect(await ss.has('s', k, 3)).toBe(true);
    expect(await at(4)).toEqual(['none', 'none']);
    expect(await ss.has('s', k, 4)).toBe(false);
    expect(await at(5)).toEqual(['05', 'none']);
    expect(await at(6)).toEqual(['none', '08']);
    expect(await at(7)).toEqual(['none', '09']);
    expect(entriesHex(await collect(ss.iterate('s', 3)))).toEqual(['00=', '0000=02']);
    expect(entriesHex(await collect(ss.iterate('s', 4)))).toEqual([]);
    expect(entriesHex(await collect(ss.iterate('s', 5, {}, { reverse: true })))).toEqual(['00=05']);
    expect(entriesHex(await collect(ss.iterate('s', 6, {}, { reverse: true })))).toEqual(['0000=08']);
    await db.close();
  });

  it('prunes: older versions are refused, newer ones unchanged, old rows deleted', async () => {
    const db = await open();
    const ss = await opened(db);
    const h = makeHistory(2, 30);
    await applyHistory(ss, h);
    const rowsBefore = (await dump(db)).length;
    expect(rowsBefore).toBe([...h.rows.values()].reduce((n, r) => n + r.length, 0) + 2);

    await ss.prune(15);
    expect([ss.latestVersion, ss.earliestVersion]).toEqual([30, 15]);
    for (const v of [1, 14]) {
      await expect(ss.get('bank', h.keys[0], v)).rejects.toMatchObject({ code: 'ERR_VERSION_PRUNED' });
      await expect(ss.has('bank', h.keys[0], v)).rejects.toMatchObject({ code: 'ERR_VERSION_PRUNED' });
      await expect(collect(ss.iterate('bank', v))).rejects.toMatchObject({ code: 'ERR_VERSION_PRUNED' });
    }
    for (let v = 15; v <= 30; v++) await expectVersion(ss, h, v);
    // What must remain: rows above 15, and the newest row <= 15 of each key unless it is a tombstone.
    let expected = 2;
    for (const rows of h.rows.values()) {
      expected += rows.filter((r) => r.version > 15).length;
      const base = rows.filter((r) => r.version <= 15).at(-1);
      if (base !== undefined && !base.tombstone) expected++;
    }
    const rowsAfter = (await dump(db)).length;
    expect(rowsAfter).toBe(expected);
    expect(rowsAfter).toBeLessThan(rowsBefore);

    // Pruning again to the same or an older version changes nothing; the metadata persists.
    const snapshot = await dump(db);
    await ss.prune(15);
    await ss.prune(3);
    expect(await dump(db)).toEqual(snapshot);
    const again = await opened(db);
    expect([again.latestVersion, again.earliestVersion]).toEqual([30, 15]);
    await expectVersion(again, h, 15);

    // A prune runs alongside commits; two commits of one version are serialised.
    const next = cs(['bank', [set(bytes(1), bytes(2))]]);
    const results = await Promise.allSettled([
      ss.prune(30),
      ss.applyChangeset(31, next),
      ss.applyChangeset(31, next),
    ]);
    expect(
      results.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as { code: string }).code)),
    ).toEqual(['ok', 'ok', 'ERR_VERSION_EXISTS']);
    await expectVersion(ss, h, 30);
    expect((await dump(db)).length).toBe(
      3 + [...h.snapshots.get(30)!.values()].reduce((n, m) => n + m.map.size, 0),
    );
    expect(hex(await ss.get('bank', bytes(1), 31))).toBe('02');
    await expect(ss.prune(32)).rejects.toMatchObject({ code: 'ERR_VERSION_NOT_FOUND' });
    await db.close();
  });

  it('rejects bad versions and bad changesets without writing anything', async () => {
    const db = await open();
    const ss = await opened(db);
    const k = bytes(1);
    // Empty storage: every version is missing.
    for (const v of [0, 1, 5]) {
      await expect(ss.get('s', k, v)).rejects.toMatchObject({ code: 'ERR_VERSION_NOT_FOUND' });
    }
    await expect(ss.has('s', k, 1)).rejects.toMatchObject({ code: 'ERR_VERSION_NOT_FOUND' });
    await expect(collect(ss.iterate('s', 1))).rejects.toMatchObject({ code: 'ERR_VERSION_NOT_FOUND' });
    await expect(ss.prune(1)).rejects.toMatchObject({ code: 'ERR_VERSION_NOT_FOUND' });
    await expect(ss.applyChangeset(1, cs(['s', [set(k, k), set(bytes(), k)]]))).rejects.toMatchObject({
      code: 'ERR_EMPTY_KEY',
    });
    await expect(ss.applyChangeset(0, cs(['s', [set(k, k)]]))).rejects.toMatchObject({
      code: 'ERR_INVALID_PARAMS',
    });
    expect(await dump(db)).toEqual([]);
    expect(ss.latestVersion).toBe(0);

    // The first version may be any version; it is then both earliest and latest.
    await ss.applyChangeset(7, cs(['s', [set(k, bytes(7))]]));
    await ss.applyChangeset(8, cs(['s', [set(k, bytes(8))]], ['t', [set(k, bytes())]]));
    expect([ss.latestVersion, ss.earliestVersion]).toEqual([8, 7]);
    await expect(ss.get('s', k, 6)).rejects.toMatchObject({ code: 'ERR_VERSION_PRUNED' });
    await expect(ss.get('s', k, 9)).rejects.toMatchObject({ code: 'ERR_VERSION_NOT_FOUND' });
    await expect(collect(ss.iterate('s', 9, {}, { reverse: true }))).rejects.toMatchObject({
      code: 'ERR_VERSION_NOT_FOUND',
    });
    await expect(ss.get('s', k, 1.5)).rejects.toMatchObject({ code: 'ERR_VERSION_NOT_FOUND' });

    const before = await dump(db);
    const attempts: Array<[number, Changeset, string]> = [
      [8, cs(['s', [set(k, bytes(0xee))]]), 'ERR_VERSION_EXISTS'],
      [7, cs(['s', [set(k, bytes(0xee))]]), 'ERR_VERSION_EXISTS'],
      [10, cs(['s', [set(k, bytes(0xee))]]), 'ERR_CHANGESET_GAP'],
      [9, cs(['s', [set(k, bytes(0xee))]], ['t', [del(bytes(2)), del(bytes())]]), 'ERR_EMPTY_KEY'],
    ];
    for (const [v, c, code] of attempts) {
      await expect(ss.applyChangeset(v, c), code).rejects.toMatchObject({ code });
      expect(await dump(db)).toEqual(before);
      expect(ss.latestVersion).toBe(8);
    }
    expect((await opened(db)).latestVersion).toBe(8);
    await ss.applyChangeset(9, cs(['s', [del(k)]]));
    expect(await ss.get('s', k, 9)).toBeUndefined();
    expect(hex(await ss.get('t', k, 9))).toBe('');

    await db.close();
  });

  it('restores a snapshot in bounded batches and then accepts the next version', async () => {
    const db = await open();
    const ss = await opened(db);
    const leaves = makeLeaves(3, 60);
    const progress: number[] = [];
    const puts = countDataPuts(db);
    const result = await ss.restore(20, asAsync(leaves), {
      batchBytes: 2048,
      onProgress: (n) => progress.push(n),
    });
    expect(result).toEqual({ leaves: leaves.length, resumed: false });
    expect(puts()).toBe(leaves.length);
    expect(progress.length).toBeGreaterThan(3);
    expect(progress.at(-1)).toBe(leaves.length);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
    expect([ss.latestVersion, ss.earliestVersion]).toEqual([20, 20]);
    expect(await ss.stores()).toEqual(['acc', 'bank', 'bank\u0000x', 'z\uffff', 'z\u{10000}']);
    for (const store of await ss.stores()) {
      const want = leaves
        .filter((l) => l.store === store)
        .map((l): [Uint8Array, Uint8Array] => [l.key, l.value]);
      expect(entriesHex(await collect(ss.iterate(store, 20)))).toEqual(entriesHex(want));
      expect(entriesHex(await collect(ss.iterate(store, 20, {}, { reverse: true })))).toEqual(
        entriesHex(want.reverse()),
      );
    }
    expect(hex(await ss.get(leaves[0].store, leaves[0].key, 20))).toBe(hex(leaves[0].value));
    await expect(ss.get('acc', leaves[0].key, 19)).rejects.toMatchObject({ code: 'ERR_VERSION_PRUNED' });
    await expect(ss.restore(20, leaves)).rejects.toMatchObject({ code: 'ERR_VERSION_EXISTS' });
    await expect(ss.restore(21, [])).rejects.toMatchObject({ code: 'ERR_VERSION_EXISTS' });
    await ss.applyChangeset(21, cs(['acc', [del(leaves[0].key)]]));
    expect(await ss.get('acc', leaves[0].key, 21)).toBeUndefined();
    expect(hex(await ss.get('acc', leaves[0].key, 20))).toBe(hex(leaves[0].value));
    const again = await opened(db);
    expect([again.latestVersion, again.earliestVersion]).toEqual([21, 20]);
    await db.close();
  });

  it('resumes an interrupted restore and ends with the same rows as an uninterrupted one', async () => {
    const leaves = makeLeaves(4, 60);
    const refDb = await open();
    await (await opened(refDb)).restore(12, leaves, { batchBytes: 1024 });
    const reference = await dump(refDb);
    await refDb.close();

    // 1. Aborted through the signal halfway.
    const db = await open();
    const ctl = new AbortController();
    const reason = new Error('stop');
    const first = await opened(db);
    await expect(
      first.restore(12, asAsync(leaves), {
        batchBytes: 1024,
        signal: ctl.signal,
        onProgress: (n) => {
          if (n >= leaves.length / 2) ctl.abort(reason);
        },
      }),
    ).rejects.toBe(reason);
    expect(first.latestVersion).toBe(0);
    const partial = await opened(db);
    expect(partial.latestVersion).toBe(0);
    await expect(partial.get('acc', leaves[0].key, 12)).rejects.toMatchObject({
      code: 'ERR_VERSION_NOT_FOUND',
    });
    await expect(partial.applyChangeset(12, cs(['acc', [set(bytes(1), bytes(1))]]))).rejects.toMatchObject({
      code: 'ERR_SNAPSHOT_IN_PROGRESS',
    });
    const puts = countDataPuts(db);
    const resumed = await partial.restore(12, leaves, { batchBytes: 1024 });
    expect(resumed).toEqual({ leaves: leaves.length, resumed: true });
    expect(puts()).toBeGreaterThan(0);
    expect(puts()).toBeLessThan(leaves.length);
    expect(await dump(db)).toEqual(reference);
    await db.close();

    // 2. The stream itself fails; resumed by another instance, twice interrupted.
    const db2 = await open();
    const broke = new Error('stream broke');
    await expect(
      (await opened(db2)).restore(12, throwAfter(leaves, 100, broke), { batchBytes: 1024 }),
    ).rejects.toBe(broke);
    await expect(
      (await opened(db2)).restore(12, asAsync(throwAfter(leaves, 200, broke)), { batchBytes: 1024 }),
    ).rejects.toBe(broke);
    const puts2 = countDataPuts(db2);
    const done = await (await opened(db2)).restore(12, asAsync(leaves), { batchBytes: 1024 });
    expect(done).toEqual({ leaves: leaves.length, resumed: true });
    expect(puts2()).toBeLessThan(leaves.length - 150);
    expect(await dump(db2)).toEqual(reference);
    await db2.close();

    // 3. A checkpoint of another version: the partial rows are discarded and the restore starts over.
    const db3 = await open();
    await expect(
      (await opened(db3)).restore(9, throwAfter(makeLeaves(5, 60), 150, broke), { batchBytes: 1024 }),
    ).rejects.toBe(broke);
    expect((await dump(db3)).length).toBeGreaterThan(10);
    const puts3 = countDataPuts(db3);
    expect(await (await opened(db3)).restore(12, leaves, { batchBytes: 1024 })).toEqual({
      leaves: leaves.length,
      resumed: false,
    });
    expect(puts3()).toBe(leaves.length);
    expect(await dump(db3)).toEqual(reference);
    await db3.close();
  });

  it('refuses leaves out of order', async () => {
    const l = (store: string, ...key: number[]): RestoreLeaf => ({
      store,
      key: bytes(...key),
      value: bytes(1),
    });
    const cases: RestoreLeaf[][] = [
      [l('a', 2), l('a', 1)],
      [l('a', 1, 0), l('a', 1)],
      [l('a', 1), l('a', 1)],
      [l('b', 1), l('a', 2)],
      [l('z\u{10000}', 1), l('z\uffff', 1)],
    ];
    for (const leaves of cases) {
      const db = await open();
      const ss = await opened(db);
      await expect(ss.restore(3, leaves)).rejects.toMatchObject({ code: 'ERR_SNAPSHOT_ORDER' });
      expect(ss.latestVersion).toBe(0);
      await db.close();
    }
    const db = await open();
    const ss = await opened(db);
    await expect(ss.restore(3, [l('a', 1), l('a')])).rejects.toMatchObject({ code: 'ERR_EMPTY_KEY' });
    // Prefix keys in order, and stores in UTF-8 byte order (not UTF-16 order), are fine.
    const ok = [l('a', 1), l('a', 1, 0), l('a', 1, 0xff), l('z\uffff', 1), l('z\u{10000}', 0)];
    expect(await ss.restore(3, ok)).toEqual({ leaves: 5, resumed: false });
    expect(await ss.stores()).toEqual(['a', 'z\uffff', 'z\u{10000}']);
    await db.close();
  });

  it('keeps storages under different prefixes apart', async () => {
    const db = await open();
    const kv = new KvDb(db);
    await kv.put(utf8('other'), utf8('untouched'));
    const a = await opened(db, utf8('ss/a/'));
    const b = await opened(kv, utf8('ss/b/'));
    const h = makeHistory(6, 8);
    await applyHistory(a, h);
    await b.applyChangeset(1, cs(['x', [set(bytes(1), bytes(1))]]));
    await b.applyChangeset(2, cs(['x', [del(bytes(1))]]));
    await a.prune(5);
    await b.prune(2);
    for (let v = 5; v <= 8; v++) await expectVersion(a, h, v);
    expect([b.latestVersion, b.earliestVersion]).toEqual([2, 2]);
    expect(await b.stores()).toEqual([]);
    expect(await a.stores()).toEqual(['a\u0000b', 'b', 'ba', 'bank']);
    expect(hex(await kv.get(utf8('other')))).toBe(hex(utf8('untouched')));
    const keys = (await dump(db)).map((e) => e.split('=')[0]);
    const other = toHex(utf8('other'));
    const pa = toHex(utf8('ss/a/'));
    const pb = toHex(utf8('ss/b/'));
    expect(keys.filter((k) => k !== other && !k.startsWith(pa) && !k.startsWith(pb))).toEqual([]);
    await db.close();
  });
});
