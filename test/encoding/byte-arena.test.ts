import { describe, expect, it } from 'vitest';
import { ByteArena } from '../../src/encoding/byte-arena.js';

describe('ByteArena', () => {
  it('carves small arrays out of one backing store until a chunk is full, then starts another', () => {
    const arena = new ByteArena(64, 64);
    const a = arena.alloc(10);
    const b = arena.alloc(10);
    expect(a.buffer).toBe(b.buffer);
    expect(b.byteOffset).toBe(a.byteOffset + 10);
    arena.alloc(40); // 60 of 64 used
    const c = arena.alloc(10);
    expect(c.buffer).not.toBe(a.buffer);
    expect(c.byteOffset).toBe(0);
  });

  it('gives an array over the large limit a backing store of its own', () => {
    const arena = new ByteArena(64, 16);
    const small = arena.alloc(16);
    const large = arena.alloc(17);
    expect(large.buffer).not.toBe(small.buffer);
    expect(large.byteLength).toBe(17);
    expect(arena.alloc(1).buffer).toBe(small.buffer);
  });

  it('copies: the copy keeps its bytes when the source changes, and views never overlap', () => {
    const arena = new ByteArena(64);
    const src = Uint8Array.of(1, 2, 3);
    const copy = arena.copy(src);
    src.fill(9);
    expect([...copy]).toEqual([1, 2, 3]);
    const next = arena.alloc(3);
    next.fill(7);
    expect([...copy]).toEqual([1, 2, 3]);
  });
});
