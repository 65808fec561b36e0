import { describe, expect, it } from 'vitest';
import { equalBytes } from '../../src/encoding/bytes.js';
import { cacheKey, NO_ENTRY, NodeCache, VERSION_SPREAD } from '../../src/iavl/node-cache.js';
import { nodeKeyBytes } from '../../src/iavl/node-codec.js';
import { SeededRandom } from '../../src/workload/seeded-random.js';

const bytes = (s: string) => new TextEncoder().encode(s);

/** The cached value of `ref` as text, or undefined. */
function cached(c: NodeCache, ref: Uint8Array): string | undefined {
  const at = c.get(ref);
  return at === NO_ENTRY ? undefined : new TextDecoder().decode(c.value(at));
}

describe('NodeCache', () => {
  it('serves an entry by a reference with equal bytes, not only the same array', () => {
    const c = new NodeCache(1 << 20);
    c.add(nodeKeyBytes(7, 3), bytes('node 7/3'));
    expect(cached(c, nodeKeyBytes(7, 3))).toBe('node 7/3');
    expect(c.get(nodeKeyBytes(7, 4))).toBe(NO_ENTRY);
  });

  it('owns its bytes: changing the caller’s arrays afterwards changes nothing cached', () => {
    const c = new NodeCache(1 << 20);
    const ref = nodeKeyBytes(2, 1);
    const raw = bytes('stored');
    c.add(ref, raw);
    raw.fill(0);
    ref.fill(0);
    expect(cached(c, nodeKeyBytes(2, 1))).toBe('stored');
  });

  it('never returns another entry when two references fold to the same number', () => {
    // Version 0 spreads to 0, so a nonce of (version 1's spread + 5) lands on (1, 5).
    const a = nodeKeyBytes(1, 5);
    const b = nodeKeyBytes(0, (VERSION_SPREAD + 5) & 0x3fffffff);
    expect(cacheKey(a)).toBe(cacheKey(b));
    const c = new NodeCache(1 << 20);
    c.add(a, bytes('a'));
    expect(c.get(b)).toBe(NO_ENTRY);
    c.add(b, bytes('b'));
    expect(cached(c, b)).toBe('b');
    expect(c.get(a)).toBe(NO_ENTRY);
  });

  it('keeps legacy hash and node-key references apart', () => {
    const hash = new Uint8Array(32).fill(9);
    const c = new NodeCache(1 << 20);
    c.add(hash, bytes('legacy'));
    expect(cached(c, new Uint8Array(32).fill(9))).toBe('legacy');
    const other = new Uint8Array(32).fill(9);
    other[31] = 0;
    expect(c.get(other)).toBe(NO_ENTRY);
    // Same first 12 bytes, other length: a node key never matches a hash entry.
    expect(c.get(hash.subarray(0, 12))).toBe(NO_ENTRY);
  });

  it('stays within its byte budget by dropping the old generation, promoting what is used', () => {
    // An entry of a 12-byte key and 20 bytes: 37 bytes plus the per-entry overhead (40).
    const one = 1 + 12 + 4 + 20 + 40;
    const c = new NodeCache(one * 20);
    c.add(nodeKeyBytes(1, 0), bytes('hot'.padEnd(20)));
    for (let i = 1; i <= 100; i++) {
      c.add(nodeKeyBytes(2, i), new Uint8Array(20));
      // Touching `hot` each round promotes it before its generation is dropped.
      expect(cached(c, nodeKeyBytes(1, 0))?.trim()).toBe('hot');
    }
    let held = 0;
    for (let i = 1; i <= 100; i++) if (c.get(nodeKeyBytes(2, i)) !== NO_ENTRY) held++;
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThanOrEqual(20);
    expect(c.get(nodeKeyBytes(2, 100))).not.toBe(NO_ENTRY);
  });

  it('caches nothing with a zero budget or over 16 KiB, and delete removes only the matching entry', () => {
    const none = new NodeCache(0);
    expect(none.add(nodeKeyBytes(1, 1), bytes('x'))).toBe(NO_ENTRY);
    expect(none.get(nodeKeyBytes(1, 1))).toBe(NO_ENTRY);
    const c = new NodeCache(1 << 20);
    expect(c.add(nodeKeyBytes(1, 2), new Uint8Array(17 * 1024))).toBe(NO_ENTRY);
    expect(c.get(nodeKeyBytes(1, 2))).toBe(NO_ENTRY);
    c.add(nodeKeyBytes(1, 5), bytes('y'));
    c.delete(nodeKeyBytes(0, 5 + 0x100000));
    expect(c.get(nodeKeyBytes(1, 5))).not.toBe(NO_ENTRY);
    c.delete(nodeKeyBytes(1, 5));
    expect(c.get(nodeKeyBytes(1, 5))).toBe(NO_ENTRY);
  });

  it('serves the right bytes through many generations, chunks reused and entries promoted', () => {
    // 2 MiB over entries of up to 4 KiB: the generations turn over dozens of times, and the
    // chunk slots of each dropped generation are used again.
    const c = new NodeCache(2 * 1024 * 1024);
    const rand = new SeededRandom(7);
    const stored = (v: number, n: number) => {
      const out = new Uint8Array(1 + ((v * 31 + n) % 4096));
      out.fill((v + n) & 0xff);
      out[0] = n & 0xff;
      return out;
    };
    let hits = 0;
    let wrong = 0;
    for (let v = 1; v <= 40; v++) {
      for (let n = 0; n < 500; n++) c.add(nodeKeyBytes(v, n), stored(v, n));
      for (let i = 0; i < 500; i++) {
        const ver = 1 + rand.int(v);
        const n = rand.int(500);
        const at = c.get(nodeKeyBytes(ver, n));
        if (at === NO_ENTRY) continue;
        hits++;
        if (!equalBytes(c.value(at), stored(ver, n))) wrong++;
      }
    }
    expect(hits).toBeGreaterThan(1000);
    expect(wrong).toBe(0);
    c.clear();
    expect(c.get(nodeKeyBytes(40, 1))).toBe(NO_ENTRY);
    c.add(nodeKeyBytes(41, 1), stored(41, 1));
    expect(c.value(c.get(nodeKeyBytes(41, 1)))).toEqual(stored(41, 1));
  });
});
