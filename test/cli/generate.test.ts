import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();

function generate(dir: string, ...args: string[]) {
  const r = runCli(['generate', '--v1', dir, '--json', '--no-progress', ...args]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
}

/** One stderr line starting with the code. */
function expectError(r: { code: number | null; stderr: string }, code: string, exit = 1): string {
  expect(r.code).toBe(exit);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^${code}: `));
  return lines[0];
}

describe('store-migrate generate', () => {
  it('--layout node-key writes iavl v1 trees (as cosmos-sdk v0.50+) with the same app hash as legacy', () => {
    const small = ['--keys', '2000', '--versions', '3'];
    const legacy = generate(join(tempDir('gen'), 'application.db'), ...small);
    const nodeKey = generate(join(tempDir('gen'), 'application.db'), ...small, '--layout', 'node-key');
    expect(nodeKey.appHash).toBe(legacy.appHash);
    expect(legacy.stores.map((s: { treeLayout: string }) => s.treeLayout)).toEqual(Array(4).fill('legacy'));
    expect(nodeKey.stores.map((s: { treeLayout: string }) => s.treeLayout)).toEqual(
      Array(4).fill('node-key'),
    );
    const bad = runCli(['generate', '--v1', join(tempDir('gen'), 'application.db'), '--layout', 'mixed']);
    expectError(bad, 'ERR_USAGE', 2);
    expect(bad.stderr).toContain('--layout must be one of legacy, node-key, not "mixed"');
  });

  it('is deterministic for a seed and writes the requested stores, versions and keys', () => {
    const small = ['--keys', '3000', '--versions', '5'];
    const a = generate(join(tempDir('gen'), 'application.db'), ...small);
    const b = generate(join(tempDir('gen'), 'application.db'), ...small);
    const c = generate(join(tempDir('gen'), 'application.db'), ...small, '--seed', '2');
    expect(a).toMatchObject({ layout: 'rootmulti', latestVersion: 5, versions: [1, 2, 3, 4, 5], version: 5 });
    expect(a.appHash).toMatch(/^[0-9a-f]{64}$/);
    expect(b.appHash).toBe(a.appHash);
    expect(b.stores).toEqual(a.stores);
    expect(c.appHash).not.toBe(a.appHash);
    expect(a.stores.map((s: { name: string }) => s.name)).toEqual(['acc', 'bank', 'gov', 'staking']);
    for (const s of a.stores) {
      expect(s.version).toBe(5);
      expect(s.rootHash).toMatch(/^[0-9a-f]{64}$/);
    }
    const keys = a.stores.reduce((sum: number, s: { keys: number }) => sum + s.keys, 0);
    expect(keys).toBe(a.keys);
    expect(keys).toBeGreaterThanOrEqual(3000 * 0.95);
    expect(keys).toBeLessThanOrEqual(3000 * 1.05);
    expect(a.generated).toMatchObject({ stores: 4, versions: 5, seed: 1, keys });
    expect(a.generated.deleted).toBeGreaterThan(0);
    expect(a.generated.updated).toBeGreaterThan(0);
  });

  it('matches what inspect reports, and honours --stores', () => {
    const dir = join(tempDir('gen'), 'db');
    const out = generate(dir, '--stores', '12', '--keys', '2000', '--versions', '3', '--seed', '0');
    expect(out.stores).toHaveLength(12);
    expect(out.stores.map((s: { name: string }) => s.name)).toContain('wasm');
    const r = runCli(['inspect', '--v1', dir, '--version', '2', '--json']);
    expect(r.code).toBe(0);
    const v2 = JSON.parse(r.stdout);
    expect(v2.version).toBe(2);
    expect(v2.appHash).not.toBe(out.appHash);
    const latest = JSON.parse(runCli(['inspect', '--v1', dir, '--json']).stdout);
    expect(latest).toEqual({ ...out, generated: undefined });
  });

  it('prints a summary without --json, and no progress with --no-progress', () => {
    const dir = join(tempDir('gen'), 'db');
    const r = runCli(['generate', '--v1', dir, '--keys', '500', '--versions', '2', '--no-progress']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^generated 500 keys in 4 stores over 2 versions/);
    expect(r.stdout).toContain('layout     rootmulti');
    expect(r.stdout).toMatch(/^bank\s+2\s+/m);
  });

  it('refuses a directory that already holds data', () => {
    const dir = join(tempDir('gen'), 'db');
    generate(dir, '--keys', '200', '--versions', '2');
    const again = runCli(['generate', '--v1', dir, '--keys', '200']);
    expect(expectError(again, 'ERR_VERSION_EXISTS')).toContain('version 2');

    const other = tempDir('gen');
    writeFileSync(join(other, 'notes.txt'), 'mine\n');
    expectError(runCli(['generate', '--v1', other]), 'ERR_NOT_A_STORE');
    expect(readdirSync(other)).toEqual(['notes.txt']);

    // An empty directory is fine.
    const empty = tempDir('gen');
    expect(generate(empty, '--keys', '100', '--versions', '1').latestVersion).toBe(1);
  });

  it('treats a missing --v1 and bad numbers as usage errors (exit 2), writing nothing', () => {
    expectError(runCli(['generate']), 'ERR_USAGE', 2);
    const dir = join(tempDir('gen'), 'db');
    for (const [flag, value] of [
      ['--keys', '0'],
      ['--keys', 'many'],
      ['--versions', '-2'],
      ['--stores', '1.5'],
      ['--seed', 'x'],
      ['--keys', '1e6'],
    ]) {
      const msg = expectError(runCli(['generate', '--v1', dir, `${flag}=${value}`]), 'ERR_USAGE', 2);
      expect(msg).toContain(flag);
    }
    expect(existsSync(dir)).toBe(false);
  });
});
