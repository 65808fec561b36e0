import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/encoding/bytes.js';
import { BlockMaker } from '../../src/workload/block-maker.js';

function liveKeys(stores: Record<string, number>): Map<string, Uint8Array[]> {
  return new Map(
    Object.entries(stores).map(([name, n]) => [
      name,
      Array.from({ length: n }, (_, i) => new TextEncoder().encode(`${name}-${i}`)),
    ]),
  );
}

describe('BlockMaker', () => {
  it('makes the same blocks from the same seed and keys', () => {
    const a = new BlockMaker(liveKeys({ acc: 100, bank: 300 }), 7);
    const b = new BlockMaker(liveKeys({ acc: 100, bank: 300 }), 7);
    for (let i = 0; i < 5; i++) expect(a.next(50)).toEqual(b.next(50));
    const c = new BlockMaker(liveKeys({ acc: 100, bank: 300 }), 8);
    expect(c.next(50)).not.toEqual(new BlockMaker(liveKeys({ acc: 100, bank: 300 }), 7).next(50));
  });

  it('creates, updates and deletes; deletes only live keys and tracks the live count', () => {
    const live = liveKeys({ acc: 200, bank: 600 });
    const known = new Map([...live].map(([s, keys]) => [s, new Set(keys.map(toHex))]));
    const maker = new BlockMaker(live, 1);
    let created = 0;
    let updated = 0;
    let deleted = 0;
    for (let i = 0; i < 20; i++) {
      const { changeset, stats } = maker.next(100);
      expect(stats.created + stats.updated + stats.deleted).toBe(100);
      expect(changeset.changes.reduce((a, c) => a + c.pairs.length, 0)).toBe(100);
      created += stats.created;
      updated += stats.updated;
      deleted += stats.deleted;
      for (const { store, pairs } of changeset.changes) {
        const set = known.get(store)!;
        for (const p of pairs) {
          const k = toHex(p.key);
          if (p.remove) {
            expect(set.has(k)).toBe(true);
            set.delete(k);
          } else {
            expect(p.value!.length).toBeGreaterThanOrEqual(8);
            set.add(k);
          }
        }
      }
      const total = [...known.values()].reduce((a, s) => a + s.size, 0);
      expect(maker.liveKeys).toBe(total);
    }
    // Roughly 30% creates, 25% deletes, 45% updates.
    expect(created).toBeGreaterThan(400);
    expect(deleted).toBeGreaterThan(300);
    expect(updated).toBeGreaterThan(700);
  });

  it('needs a store', () => {
    expect(() => new BlockMaker(new Map(), 1)).toThrow(/needs a store/);
  });
});
