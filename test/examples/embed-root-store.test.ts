import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { runNode } from '../../examples/embed-root-store.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();

describe('the README embedding example', () => {
  it('runs: a new node starts on v2 at once and commits blocks', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    const r = await runNode(join(tempDir('embed'), 'home'), 12);
    expect(r.switchedAt).toBe(0);
    expect(r.appHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is the code the README shows', () => {
    const root = new URL('../../', import.meta.url).pathname;
    const example = readFileSync(join(root, 'examples/embed-root-store.ts'), 'utf8').replace(
      "'../src/index.js'",
      "'store-migrate'",
    );
    expect(readFileSync(join(root, 'README.md'), 'utf8')).toContain(example.trim());
  });
});

describe('the embedding example on an existing v1 node', () => {
  it('migrates in the background while blocks commit, and switches', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    const { openDb } = await import('../../src/db/open-db.js');
    const { buildV1 } = await import('../helpers/v1-builder.js');
    const home = join(tempDir('embed'), 'home');
    const db = await openDb(join(home, 'application.db'));
    await buildV1(db, { stores: ['bank', 'staking'], keysPerStore: 2000, versions: 5 });
    await db.close();
    const r = await runNode(home, 40, 25);
    expect(r.switchedAt).toBeGreaterThanOrEqual(5);
  });
});
