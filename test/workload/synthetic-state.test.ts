import { MemoryLevel } from 'memory-level';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/encoding/bytes.js';
import { isStoreMigrateError } from '../../src/errors.js';
import { MultiStoreV1 } from '../../src/v1/multi-store-v1.js';
import {
  generateSyntheticState,
  SyntheticRandom,
  type SyntheticStateOptions,
  type SyntheticStateProgress,
  syntheticStoreNames,
} from '../../src/workload/synthetic-state.js';

function memoryDb(): MemoryLevel<Uint8Array, Uint8Array> {
  return new MemoryLevel<Uint8Array, Uint8Array>({ keyEncoding: 'view', valueEncoding: 'view' });
}

/** Generates into a fresh in-memory database; returns the app hash of every version. */
async function generate(options: SyntheticStateOptions) {
  const db = memoryDb();
  await db.open();
  const stats = await generateSyntheticState(db, options);
  const ms = await MultiStoreV1.open(db, { readOnly: true });
  const appHashes: string[] = [];
  for (const v of await ms.versions()) appHashes.push(toHex((await ms.getCommitInfo(v)).appHash));
  return { db, ms, stats, appHashes };
}

describe('SyntheticRandom', () => {
  it('repeats its sequence for a seed and fills bytes of any length', () => {
    const a = new SyntheticRandom(42);
    const b = new SyntheticRandom(42);
    const c = new SyntheticRandom(43);
    const xs = Array.from({ length: 8 }, () => a.u32());
    expect(Array.from({ length: 8 }, () => b.u32())).toEqual(xs);
    expect(Array.from({ length: 8 }, () => c.u32())).not.toEqual(xs);
    const buf = new Uint8Array(11);
    new SyntheticRandom(1).fill(buf, 1, 9);
    expect(buf[0]).toBe(0);
    expect(buf[10]).toBe(0);
    expect(buf.subarray(1, 10).some((x) => x !== 0)).toBe(true);
    for (let i = 0; i < 1000; i++) {
      const n = a.logUniform(4, 4096);
      expect(n).toBeGreaterThanOrEqual(4);
      expect(n).toBeLessThanOrEqual(4096);
    }
  });

  it('rejects a seed that is not a non-negative safe integer', () => {
    for (const seed of [-1, 1.5, Number.NaN, 2 ** 60]) {
      expect(() => new SyntheticRandom(seed)).toThrow(/seed/);
    }
  });
});

describe('syntheticStoreNames', () => {
  it('takes cosmos module names, then repeats them with a suffix', () => {
    expect(syntheticStoreNames(4)).toEqual(['acc', 'bank', 'staking', 'gov']);
    const many = syntheticStoreNames(40);
    expect(new Set(many).size).toBe(40);
    expect(many).toContain('wasm');
    expect(many).toContain('acc2');
    expect(many).toContain('bank3');
    for (const n of many) expect(n).toMatch(/^[a-z]+[0-9]*$/);
  });
});

describe('generateSyntheticState', () => {
  it('is deterministic for a seed, at every version', async () => {
    const a = await generate({ keys: 2000, versions: 4, seed: 7 });
    const b = await generate({ keys: 2000, versions: 4, seed: 7 });
    const c = await generate({ keys: 2000, versions: 4, seed: 8 });
    expect(a.appHashes).toHaveLength(4);
    expect(b.appHashes).toEqual(a.appHashes);
    expect(c.appHashes[0]).not.toBe(a.appHashes[0]);
    expect(c.appHashes[3]).not.toBe(a.appHashes[3]);
    expect(new Set(a.appHashes).size).toBe(4);
  });

  it('writes the requested stores, versions and key count, with a realistic shape', async () => {
    const keys = 6000;
    const { ms, stats } = await generate({ stores: 6, keys, versions: 6, seed: 3 });
    expect(ms.storeNames()).toEqual([...syntheticStoreNames(6)].sort());
    expect(await ms.versions()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(stats.keys).toBeGreaterThanOrEqual(keys * 0.95);
    expect(stats.keys).toBeLessThanOrEqual(keys * 1.05);
    // History: later versions create, update and delete keys.
    expect(stats.created).toBeGreaterThan(keys);
    expect(stats.updated).toBeGreaterThan(0);
    expect(stats.deleted).toBeGreaterThan(0);

    const sizes: number[] = [];
    const keyLengths = new Set<number>();
    const valueLengths: number[] = [];
    let live = 0;
    for (const name of ms.storeNames()) {
      const t = await ms.immutable(name, 6);
      sizes.push(t.size);
      for (const [k, v] of t.iterate()) {
        keyLengths.add(k.length);
        valueLengths.push(v.length);
        live++;
      }
    }
    expect(live).toBe(stats.keys);
    expect(stats.stores.reduce((s, st) => s + st.keys, 0)).toBe(stats.keys);
    // Uneven stores: the biggest holds many times the smallest.
    expect(Math.max(...sizes)).toBeGreaterThan(5 * Math.min(...sizes));
    // Keys of mixed lengths (prefix bytes, 20- and 32-byte addresses, sequences).
    expect(keyLengths.size).toBeGreaterThan(3);
    // Values: most small, a tail of large ones.
    valueLengths.sort((x, y) => x - y);
    expect(valueLengths[Math.floor(valueLengths.length / 2)]).toBeLessThan(200);
    expect(valueLengths.at(-1)).toBeGreaterThan(1000);
    expect(valueLengths[0]).toBeLessThan(10);
  });

  it('puts most keys in version 1, and reports progress', async () => {
    const events: SyntheticStateProgress[] = [];
    const db = memoryDb();
    await db.open();
    const stats = await generateSyntheticState(db, { keys: 3000, versions: 5 }, (p) => events.push(p));
    const ms = await MultiStoreV1.open(db, { readOnly: true });
    let v1Keys = 0;
    for (const name of ms.storeNames()) v1Keys += (await ms.immutable(name, 1)).size;
    expect(v1Keys).toBeGreaterThan(0.8 * stats.keys);
    const committed = events.filter((e) => e.phase === 'committed');
    expect(committed.map((e) => e.version)).toEqual([1, 2, 3, 4, 5]);
    expect(committed.at(-1)!.changesCommitted).toBe(committed.at(-1)!.changesTotal);
    expect(committed.at(-1)!.changesTotal).toBe(stats.created + stats.updated + stats.deleted);
  });

  it('handles one version, one store and more stores than keys', async () => {
    const one = await generate({ stores: 1, keys: 50, versions: 1 });
    expect(one.appHashes).toHaveLength(1);
    expect(one.stats.keys).toBe(50);
    expect(one.stats.deleted).toBe(0);
    const sparse = await generate({ stores: 20, keys: 5, versions: 3 });
    expect(sparse.ms.storeNames()).toHaveLength(20);
    expect(sparse.stats.keys).toBe(5);
  });

  it('refuses a store that already has versions, and bad options', async () => {
    const { db } = await generate({ keys: 100, versions: 2 });
    await expect(generateSyntheticState(db, { keys: 100 })).rejects.toSatisfy((e) =>
      isStoreMigrateError(e, 'ERR_VERSION_EXISTS'),
    );
    const fresh = memoryDb();
    await fresh.open();
    for (const bad of [{ keys: 0 }, { versions: -1 }, { stores: 1.5 }, { seed: -3 }]) {
      await expect(generateSyntheticState(fresh, bad)).rejects.toSatisfy((e) =>
        isStoreMigrateError(e, 'ERR_INVALID_PARAMS'),
      );
    }
    // A multistore opened with other stores is refused before anything is written.
    const other = await MultiStoreV1.open(fresh, { stores: ['x'] });
    await expect(generateSyntheticState(other, { stores: 2 })).rejects.toSatisfy((e) =>
      isStoreMigrateError(e, 'ERR_UNKNOWN_STORE'),
    );
    expect(other.latestVersion).toBe(0);
  });
});
