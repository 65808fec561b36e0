import { describe, expect, it } from 'vitest';
import { cacheKey, entryRef, entryValue, NodeCache, VERSION_SPREAD } from '../../src/iavl/node-cache.js';
import { nodeKeyBytes } from '../../src/iavl/node-codec.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) =>
  b === undefined ? undefined : new TextDecoder().decode(entryValue(b));

describe('NodeCache', () => {
  it('serves an entry by a reference with equal bytes, not only the same array', () => {
    const c = new NodeCache(1 << 20);
    c.add(nodeKeyBytes(7, 3), bytes('node 7/3'));
    const hit = c.get(nodeKeyBytes(7, 3));
    expect(text(hit)).toBe('node 7/3');
    expect(entryRef(hit!)).toEqual(nodeKeyBytes(7, 3));
    expect(c.get(nodeKeyBytes(7, 4))).toBeUndefined();
  });

  it('owns its bytes: changing the caller’s arrays afterwards changes nothing cached', () => {
    const c = new NodeCache(1 << 20);
    const ref = nodeKeyBytes(2, 1);
    const raw = bytes('stored');
    c.add(ref, raw);
    raw.fill(0);
    ref.fill(0);
    expect(text(c.get(nodeKeyBytes(2, 1)))).toBe('stored');
  });

  it('never returns another entry when two references fold to the same number', () => {
    // Version 0 spreads to 0, so a nonce of (version 1's spread + 5) lands on (1, 5).
    const a = nodeKeyBytes(1, 5);
    const b = nodeKeyBytes(0, (VERSION_SPREAD + 5) & 0x3fffffff);
    expect(cacheKey(a)).toBe(cacheKey(b));
    const c = new NodeCache(1 << 20);
    c.add(a, bytes('a'));
    expect(c.get(b)).toBeUndefined();
    c.add(b, bytes('b'));
    expect(text(c.get(b))).toBe('b');
    expect(c.get(a)).toBeUndefined();
  });

  it('keeps legacy hash and node-key references apart', () => {
    const hash = new Uint8Array(32).fill(9);
    const c = new NodeCache(1 << 20);
    c.add(hash, bytes('legacy'));
    expect(text(c.get(new Uint8Array(32).fill(9)))).toBe('legacy');
    const other = new Uint8Array(32).fill(9);
    other[31] = 0;
    expect(c.get(other)).toBeUndefined();
    // Same first 12 bytes, other length: a node key never matches a hash entry.
    expect(c.get(hash.subarray(0, 12))).toBeUndefined();
  });

  it('stays within its byte budget by dropping the old generation, promoting what is used', () => {
    // An entry of a 12-byte key and 20 bytes: 33 bytes plus the per-entry overhead (96).
    const one = 1 + 12 + 20 + 96;
    const c = new NodeCache(one * 20);
    c.add(nodeKeyBytes(1, 0), bytes('hot'.padEnd(20)));
    for (let i = 1; i <= 100; i++) {
      c.add(nodeKeyBytes(2, i), new Uint8Array(20));
      // Touching `hot` each round promotes it before its generation is dropped.
      expect(text(c.get(nodeKeyBytes(1, 0)))?.trim()).toBe('hot');
    }
    let held = 0;
    for (let i = 1; i <= 100; i++) if (c.get(nodeKeyBytes(2, i)) !== undefined) held++;
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThanOrEqual(20);
    expect(c.get(nodeKeyBytes(2, 100))).toBeDefined();
  });

  it('caches nothing with a zero budget (own() still copies), and delete removes only the matching entry', () => {
    const none = new NodeCache(0);
    const e = none.add(nodeKeyBytes(1, 1), bytes('x'));
    expect(text(e)).toBe('x');
    expect(none.get(nodeKeyBytes(1, 1))).toBeUndefined();
    const c = new NodeCache(1 << 20);
    c.add(nodeKeyBytes(1, 5), bytes('y'));
    c.delete(nodeKeyBytes(0, 5 + 0x100000));
    expect(c.get(nodeKeyBytes(1, 5))).toBeDefined();
    c.delete(nodeKeyBytes(1, 5));
    expect(c.get(nodeKeyBytes(1, 5))).toBeUndefined();
  });
});
