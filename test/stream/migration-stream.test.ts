import { describe, expect, it } from 'vitest';
import { StoreMigrateError } from '../../src/errors.js';
import { MigrationStream } from '../../src/stream/migration-stream.js';

describe('MigrationStream', () => {
  it('delivers items in order through the async iterator', async () => {
    const s = new MigrationStream<number>(4);
    const writer = (async () => {
      for (let i = 0; i < 100; i++) await s.writeMsg(i);
      s.close();
    })();
    const got: number[] = [];
    for await (const x of s) got.push(x);
    await writer;
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('makes the writer wait while the queue is full', async () => {
    const s = new MigrationStream<number>(3);
    let written = 0;
    const writer = (async () => {
      for (let i = 0; i < 10; i++) {
        await s.writeMsg(i);
        written++;
      }
    })();
    await new Promise((r) => setTimeout(r, 20));
    expect(written).toBe(3);
    expect(s.size).toBe(3);
    expect(await s.readMsg()).toBe(0);
    await new Promise((r) => setTimeout(r, 5));
    expect(written).toBe(4);
    s.cancel();
    await expect(writer).rejects.toMatchObject({ code: 'ERR_STREAM_CLOSED' });
  });

  it('hands a writer error after N items to the reader as that error, after the buffered items', async () => {
    const s = new MigrationStream<number>(1024);
    const boom = new StoreMigrateError('ERR_CORRUPT_NODE', 'bad node at 5');
    for (let i = 0; i < 5; i++) await s.writeMsg(i);
    s.closeWithError(boom);
    const got: number[] = [];
    let caught: unknown;
    try {
      for await (const x of s) got.push(x);
    } catch (err) {
      caught = err;
    }
    expect(got).toEqual([0, 1, 2, 3, 4]);
    expect(caught).toBe(boom);
    // Reading again still reports the error: never a plain end of stream.
    await expect(s.readMsg()).rejects.toBe(boom);
  });

  it('releases a blocked writer when the reader leaves the loop', async () => {
    const s = new MigrationStream<number>(2);
    const writer = (async () => {
      for (let i = 0; ; i++) await s.writeMsg(i);
    })();
    for await (const x of s) if (x === 10) break;
    await expect(writer).rejects.toMatchObject({ code: 'ERR_STREAM_CLOSED' });
  });

  it('refuses writes after close and a non-positive buffer size', async () => {
    const s = new MigrationStream<number>();
    s.close();
    await expect(s.writeMsg(1)).rejects.toMatchObject({ code: 'ERR_STREAM_CLOSED' });
    expect(await s.readMsg()).toBeUndefined();
    expect(() => new MigrationStream(0)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_PARAMS' }));
  });

  it('keeps memory bounded: 1M items through a 1024 buffer with a slow reader grow the heap < 50 MB', async () => {
    const s = new MigrationStream<Uint8Array>(1024);
    globalThis.gc?.();
    const before = process.memoryUsage().heapUsed;
    let peak = before;
    const writer = (async () => {
      for (let i = 0; i < 1_000_000; i++) await s.writeMsg(new Uint8Array(64));
      s.close();
    })();
    let n = 0;
    for await (const _ of s) {
      n++;
      if ((n & 0x3fff) === 0) {
        // A stalled reader: the writer must wait, not pile items up.
        await new Promise((r) => setTimeout(r, 1));
        expect(s.size).toBeLessThanOrEqual(1024);
        peak = Math.max(peak, process.memoryUsage().heapUsed);
      }
    }
    await writer;
    expect(n).toBe(1_000_000);
    expect(peak - before).toBeLessThan(50 * 1024 * 1024);
  });
});
