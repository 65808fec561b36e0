import { describe, expect, it } from 'vitest';
import { Node } from '../../src/iavl/node.js';
import { cacheKey, NodeCache, VERSION_SPREAD } from '../../src/iavl/node-cache.js';
import { nodeKeyBytes } from '../../src/iavl/node-codec.js';

function persisted(ref: Uint8Array, key = 'k'): Node {
  const n = Node.leaf(new TextEncoder().encode(key), new Uint8Array(10), 1);
  n.ref = ref;
  return n;
}

describe('NodeCache', () => {
  it('serves a node by a reference with equal bytes, not only the same object', () => {
    const c = new NodeCache(1 << 20);
    const n = persisted(nodeKeyBytes(7, 3));
    c.set(n);
    expect(c.get(nodeKeyBytes(7, 3))).toBe(n);
    expect(c.get(nodeKeyBytes(7, 4))).toBeUndefined();
  });

  it('never returns another node when two references fold to the same number', () => {
    // Version 0 spreads to 0, so a nonce of (version 1's spread + 5) lands on (1, 5).
    const a = nodeKeyBytes(1, 5);
    const b = nodeKeyBytes(0, (VERSION_SPREAD + 5) & 0x3fffffff);
    expect(cacheKey(a)).toBe(cacheKey(b));
    const c = new NodeCache(1 << 20);
    const na = persisted(a, 'a');
    c.set(na);
    expect(c.get(b)).toBeUndefined();
    const nb = persisted(b, 'b');
    c.set(nb);
    expect(c.get(b)).toBe(nb);
    expect(c.get(a)).toBeUndefined();
  });

  it('keeps legacy hash and node-key references apart', () => {
    const hash = new Uint8Array(32).fill(9);
    const c = new NodeCache(1 << 20);
    const n = persisted(hash);
    c.set(n);
    expect(c.get(new Uint8Array(32).fill(9))).toBe(n);
    const other = new Uint8Array(32).fill(9);
    other[31] = 0;
    expect(c.get(other)).toBeUndefined();
  });

  it('stays within its byte budget by dropping the old generation, promoting what is used', () => {
    const one = persisted(nodeKeyBytes(1, 1)).byteSize;
    const c = new NodeCache(one * 20);
    const hot = persisted(nodeKeyBytes(1, 0));
    c.set(hot);
    for (let i = 1; i <= 100; i++) {
      c.set(persisted(nodeKeyBytes(2, i)));
      // Touching `hot` each round promotes it before its generation is dropped.
      expect(c.get(nodeKeyBytes(1, 0))).toBe(hot);
    }
    let held = 0;
    for (let i = 1; i <= 100; i++) if (c.get(nodeKeyBytes(2, i)) !== undefined) held++;
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThanOrEqual(20);
    expect(c.get(nodeKeyBytes(2, 100))).toBeDefined();
  });

  it('caches nothing with a zero budget, and delete removes only the matching node', () => {
    const none = new NodeCache(0);
    none.set(persisted(nodeKeyBytes(1, 1)));
    expect(none.get(nodeKeyBytes(1, 1))).toBeUndefined();
    const c = new NodeCache(1 << 20);
    c.set(persisted(nodeKeyBytes(1, 5)));
    c.delete(nodeKeyBytes(0, 5 + 0x100000));
    expect(c.get(nodeKeyBytes(1, 5))).toBeDefined();
    c.delete(nodeKeyBytes(1, 5));
    expect(c.get(nodeKeyBytes(1, 5))).toBeUndefined();
  });
});
