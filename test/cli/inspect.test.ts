import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { copyFixture } from '../helpers/fixtures.js';
import { runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
const ROOT_V3 = '6ed927d6debdb9597874b818322f1ed54b7c192620c71654f3dc30aebeb56b5b';
const ROOT_V6 = '4ec1cacc0aab872cce477890398b63e534f6bc83011ac52086a69cbb65ef936d';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function fixture(): string {
  const f = copyFixture('iavl-0.13/0.13-orphans.db');
  cleanups.push(f.cleanup);
  return f.path;
}

/** Exactly one line on stderr, starting with the code, and no stack. */
function expectOneErrorLine(stderr: string, code: string): void {
  const lines = stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^${code}: `));
}

describe('store-migrate inspect', () => {
  it('recognises a bare cosmos/iavl 0.13 tree and reports its versions and roots', () => {
    const path = fixture();
    const r = runCli(['inspect', '--v1', path, '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      layout: 'iavl',
      latestVersion: 6,
      versions: [3, 6],
      version: 6,
      appHash: ROOT_V6,
      stores: [{ name: 'iavl', rootHash: ROOT_V6, version: 6 }],
    });
    // At version 6: current, add1..add6, rm7, rm8.
    expect(out.stores[0].keys).toBe(9);

    const r3 = runCli(['inspect', '--v1', path, '--version', '3', '--json']);
    expect(r3.code).toBe(0);
    expect(JSON.parse(r3.stdout)).toMatchObject({
      version: 3,
      latestVersion: 6,
      appHash: ROOT_V3,
      stores: [{ name: 'iavl', rootHash: ROOT_V3, version: 3, keys: 9 }],
    });
  });

  it('prints a readable table without --json', () => {
    const path = fixture();
    const r = runCli(['inspect', '--v1', path]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('layout     iavl');
    expect(r.stdout).toContain('versions   3, 6, latest 6');
    expect(r.stdout).toContain(`app hash   ${ROOT_V6}`);
    expect(r.stdout).toMatch(new RegExp(`^iavl\\s+6\\s+9\\s+legacy\\s+${ROOT_V6}$`, 'm'));
    expect(r.stderr).toBe('');
  });

  it('reports a version that does not exist, or was pruned', () => {
    const path = fixture();
    for (const v of ['4', '99']) {
      const r = runCli(['inspect', '--v1', path, '--version', v]);
      expect(r.code).toBe(1);
      expectOneErrorLine(r.stderr, 'ERR_VERSION_NOT_FOUND');
      expect(r.stderr).toContain(`version ${v} does not exist (available: 3, 6)`);
    }
    const r = runCli(['inspect', '--v1', path, '--version', '1']);
    expect(r.code).toBe(1);
    expectOneErrorLine(r.stderr, 'ERR_VERSION_PRUNED');
  });

  it('fails with ERR_NOT_FOUND for a directory that does not exist, and creates nothing', () => {
    const path = join(tempDir('inspect'), 'nope', 'application.db');
    const r = runCli(['inspect', '--v1', path]);
    expect(r.code).toBe(1);
    expectOneErrorLine(r.stderr, 'ERR_NOT_FOUND');
    expect(r.stdout).toBe('');
    expect(existsSync(path)).toBe(false);
  });

  it('refuses a directory that is not a database, without writing into it', () => {
    const empty = tempDir('inspect');
    const r = runCli(['inspect', '--v1', empty]);
    expect(r.code).toBe(1);
    expectOneErrorLine(r.stderr, 'ERR_NOT_A_STORE');
    expect(readdirSync(empty)).toEqual([]);

    const home = tempDir('inspect');
    mkdirSync(join(home, 'application.db'));
    writeFileSync(join(home, 'config.toml'), 'x = 1\n');
    const rh = runCli(['inspect', '--v1', home]);
    expect(rh.code).toBe(1);
    expectOneErrorLine(rh.stderr, 'ERR_NOT_A_STORE');
    expect(rh.stderr).toContain(join(home, 'application.db'));
    expect(readdirSync(home).sort()).toEqual(['application.db', 'config.toml']);
  });

  it('shows the stack only with --verbose', () => {
    const path = join(tempDir('inspect'), 'missing');
    const r = runCli(['inspect', '--v1', path, '--verbose']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^ERR_NOT_FOUND: /);
    expect(r.stderr).toMatch(/\n\s+at /);
  });

  it('treats a missing --v1 or a bad --version as a usage error (exit 2)', () => {
    const r = runCli(['inspect']);
    expect(r.code).toBe(2);
    expectOneErrorLine(r.stderr, 'ERR_USAGE');
    expect(r.stderr).toContain('--v1');
    expect(r.stderr).toContain('--help');
    for (const bad of ['0', '-1', 'abc', '1.5']) {
      const rb = runCli(['inspect', '--v1', fixture(), `--version=${bad}`]);
      expect(rb.code).toBe(2);
      expectOneErrorLine(rb.stderr, 'ERR_USAGE');
    }
  });
});
