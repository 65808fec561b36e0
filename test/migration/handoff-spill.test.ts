import { existsSync, mkdirSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toHex, utf8 } from '../../src/encoding/bytes.js';
import { silentLogger } from '../../src/logger.js';
import { HandoffSpill, handoffSpillPath } from '../../src/migration/handoff-spill.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();

/** A version's writes: `n` keys and values of `size` bytes, distinct per version. */
function writesOf(version: number, n = 3, size = 8) {
  const keys = Array.from({ length: n }, (_, i) => utf8(`s/k:bank/${version}-${i}`));
  const values = Array.from({ length: n }, (_, i) => new Uint8Array(size).fill((version * 7 + i) & 0xff));
  return { keys, values };
}

const hex = (w: { keys: Uint8Array[]; values: Uint8Array[] } | undefined) =>
  w && { keys: w.keys.map(toHex), values: w.values.map(toHex) };

function segments(dir: string): string[] {
  return readdirSync(dir).sort();
}

describe('HandoffSpill', () => {
  it('gives back what was put, once, and undefined for a version never put', async () => {
    const dir = handoffSpillPath(join(tempDir('spill'), 'v2'));
    const spill = await HandoffSpill.open(dir, silentLogger);
    for (let v = 10; v < 14; v++) spill.put(v, writesOf(v));
    expect(spill.size).toBe(4);
    expect(hex(await spill.take(12))).toEqual(hex(writesOf(12)));
    expect(await spill.take(12)).toBeUndefined(); // taken
    expect(await spill.take(99)).toBeUndefined();
    expect(hex(await spill.take(10))).toEqual(hex(writesOf(10)));
    await spill.close();
    expect(existsSync(dir)).toBe(false);
  });

  it('clears what an earlier run left in its directory when it opens', async () => {
    const dir = join(tempDir('spill'), 'v2.handoff');
    // A crash left a segment (a later run's versions may differ) and something else.
    mkdirSync(dir);
    writeFileSync(join(dir, '000000.seg'), new Uint8Array(100));
    writeFileSync(join(dir, 'stray'), 'x');
    const spill = await HandoffSpill.open(dir, silentLogger);
    expect(segments(dir)).toEqual([]);
    spill.put(5, writesOf(5));
    expect(hex(await spill.take(5))).toEqual(hex(writesOf(5)));
    await spill.close();
  });

  it('deletes a file once every version in it is taken or dropped, and not the one it appends to', async () => {
    const dir = join(tempDir('spill'), 'v2.handoff');
    // About 1 KiB per version, 4 KiB per file: versions 1-3 in the first file, 4-6 in the second, ...
    const spill = await HandoffSpill.open(dir, silentLogger, { segmentBytes: 4096 });
    for (let v = 1; v <= 8; v++) spill.put(v, writesOf(v, 4, 250));
    expect(hex(await spill.take(1))).toEqual(hex(writesOf(1, 4, 250)));
    const files = segments(dir);
    expect(files.length).toBeGreaterThanOrEqual(3);
    await spill.dropTo(3);
    expect(segments(dir)).not.toContain(files[0]);
    expect(segments(dir)).toContain(files.at(-1));
    // What is left is still whole.
    expect(hex(await spill.take(7))).toEqual(hex(writesOf(7, 4, 250)));
    await spill.dropTo(100);
    expect(segments(dir)).toEqual([files.at(-1)]);
    await spill.close();
  });

  // Bad input: the spill is a cache, so a damaged one only sends the sync back to v1.
  it('a record cut short on disk is undefined (read from v1), and the versions before it are whole', async () => {
    const dir = join(tempDir('spill'), 'v2.handoff');
    const spill = await HandoffSpill.open(dir, silentLogger);
    spill.put(1, writesOf(1));
    spill.put(2, writesOf(2));
    expect(hex(await spill.take(1))).toEqual(hex(writesOf(1))); // both written by now
    const file = join(dir, segments(dir)[0]);
    truncateSync(file, statSync(file).size - 5);
    expect(await spill.take(2)).toBeUndefined();
    await spill.close();
  });

  it('a spill whose directory went away is undefined for every version, and close still succeeds', async () => {
    const dir = join(tempDir('spill'), 'v2.handoff');
    const spill = await HandoffSpill.open(dir, silentLogger);
    rmSync(dir, { recursive: true, force: true });
    spill.put(1, writesOf(1));
    expect(await spill.take(1)).toBeUndefined();
    await spill.close();
    expect(existsSync(dir)).toBe(false);
  });

  it('ignores puts after close', async () => {
    const dir = join(tempDir('spill'), 'v2.handoff');
    const spill = await HandoffSpill.open(dir, silentLogger);
    await spill.close();
    spill.put(1, writesOf(1));
    expect(spill.size).toBe(0);
    expect(existsSync(dir)).toBe(false);
  });
});
