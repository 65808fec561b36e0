import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KvDb } from '../../src/db/kv-db.js';
import { openDb } from '../../src/db/open-db.js';
import { utf8 } from '../../src/encoding/bytes.js';
import { CLI_BIN, runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();

function generate(dir: string, keys: number, seed = 1): void {
  const r = runCli([
    'generate',
    '--v1',
    join(dir, 'application.db'),
    '--keys',
    String(keys),
    '--versions',
    '4',
    '--seed',
    String(seed),
    '--no-progress',
    '--json',
  ]);
  expect(r.code, r.stderr).toBe(0);
}

/** A v1 of 30,000 keys and a `migrate` of it slowed by --throttle, so a test can stop it midway. */
function slowMigrate(name: string, stdio: 'ignore' | 'pipe') {
  const dir = tempDir(name);
  generate(dir, 30000);
  const v1 = join(dir, 'application.db');
  const v2 = join(dir, 'v2');
  const child = spawn(
    process.execPath,
    [CLI_BIN, 'migrate', '--v1', v1, '--v2', v2, '--throttle', '10000', '--no-progress'],
    { stdio: ['ignore', stdio, stdio] },
  );
  return { v1, v2, child };
}

describe('migrate, verify and status', () => {
  it('migrate then verify reports ok, with the migrated app hash equal to v1; a changed value makes verify exit 1', async () => {
    const dir = tempDir('cli-mig');
    generate(dir, 6000);
    const v1 = join(dir, 'application.db');
    const v2 = join(dir, 'v2');
    const inspect = JSON.parse(runCli(['inspect', '--v1', v1, '--json']).stdout);
    const m = runCli(['migrate', '--v1', v1, '--v2', v2, '--json', '--no-progress']);
    expect(m.code, m.stderr).toBe(0);
    const mig = JSON.parse(m.stdout);
    expect(mig.version).toBe(inspect.latestVersion);
    expect(mig.appHash).toBe(inspect.appHash);
    expect(mig.resumed).toBe(false);
    expect(mig.leaves).toBe(mig.stores.reduce((a: number, s: { leaves: number }) => a + s.leaves, 0));
    expect(mig.stores.map((s: { rootHash: string }) => s.rootHash)).toEqual(
      inspect.stores.map((s: { rootHash: string }) => s.rootHash),
    );

    const ok = runCli(['verify', '--v1', v1, '--v2', v2, '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({
      ok: true,
      appHashV1: inspect.appHash,
      appHashV2: inspect.appHash,
    });

    const st = JSON.parse(runCli(['status', '--home', dir, '--json']).stdout);
    expect(st).toMatchObject({
      phase: 'syncing',
      migratedVersion: inspect.latestVersion,
      latestVersion: inspect.latestVersion,
    });

    // Change one value in v2's StateStorage on purpose.
    const db = await openDb(v2);
    const kv = new KvDb(db);
    for await (const [k, v] of kv.iterate({ gte: utf8('ss/d'), lt: utf8('ss/e') })) {
      if (v[0] === 1 && v.length > 1) {
        const bad = v.slice();
        bad[1] ^= 0x55;
        await kv.put(k, bad);
        break;
      }
    }
    await db.close();
    const bad = runCli(['verify', '--v1', v1, '--v2', v2, '--json']);
    expect(bad.code).toBe(1);
    const report = JSON.parse(bad.stdout);
    expect(report.ok).toBe(false);
    expect(report.stores.reduce((a: number, s: { mismatched: number }) => a + s.mismatched, 0)).toBe(1);
    expect(
      report.stores.reduce((a: number, s: { missing: number; extra: number }) => a + s.missing + s.extra, 0),
    ).toBe(0);

    // Migrating again is a no-op report.
    expect(
      JSON.parse(runCli(['migrate', '--v1', v1, '--v2', v2, '--json', '--no-progress']).stdout).appHash,
    ).toBe(inspect.appHash);
  });

  it('resumes after the process is killed, reporting resumed: true', async () => {
    const { v1, v2, child } = slowMigrate('cli-res', 'ignore');
    await new Promise((r) => setTimeout(r, 1800));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    const again = runCli(['migrate', '--v1', v1, '--v2', v2, '--json', '--no-progress']);
    expect(again.code, again.stderr).toBe(0);
    const res = JSON.parse(again.stdout);
    expect(res.resumed).toBe(true);
    const inspect = JSON.parse(runCli(['inspect', '--v1', v1, '--json']).stdout);
    expect(res.appHash).toBe(inspect.appHash);
    expect(runCli(['verify', '--v1', v1, '--v2', v2]).code).toBe(0);
  });

  it.each([
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const)(
    'stops on %s: exits %i within 5 s naming the checkpoint and the resume command, and resumes',
    async (signal, exitCode) => {
      const { v1, v2, child } = slowMigrate('cli-stop', 'pipe');
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      await new Promise((r) => setTimeout(r, 1500));
      const sent = Date.now();
      child.kill(signal);
      const code = await exited;
      expect(Date.now() - sent).toBeLessThan(5000);
      expect(code).toBe(exitCode);
      const lines = stderr.trim().split('\n');
      expect(lines).toEqual([
        expect.stringMatching(
          new RegExp(
            `^stopped on ${signal}, restoring version 4: [0-9,]+ of [0-9,]+ leaves.* The restore checkpoint is in ${v2}\\.$`,
          ),
        ),
        `Run the same command to resume: store-migrate migrate --v1 ${v1} --v2 ${v2} --throttle 10000`,
      ]);
      const again = runCli(['migrate', '--v1', v1, '--v2', v2, '--json', '--no-progress']);
      expect(again.code, again.stderr).toBe(0);
      expect(JSON.parse(again.stdout).resumed).toBe(true);
      expect(runCli(['verify', '--v1', v1, '--v2', v2]).code).toBe(0);
    },
  );

  it('refuses a v2 directory that belongs to another v1, and bad usage, with one clear line', () => {
    const a = tempDir('cli-a');
    const b = tempDir('cli-b');
    generate(a, 500, 1);
    generate(b, 500, 2);
    expect(
      runCli(['migrate', '--v1', join(a, 'application.db'), '--v2', join(a, 'v2'), '--no-progress']).code,
    ).toBe(0);
    const wrong = runCli([
      'migrate',
      '--v1',
      join(b, 'application.db'),
      '--v2',
      join(a, 'v2'),
      '--no-progress',
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr.trim()).toMatch(/^ERR_WRONG_CHAIN: /);
    expect(wrong.stderr.trim().split('\n')).toHaveLength(1);
    const missing = runCli(['migrate', '--v2', join(a, 'v2')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^ERR_USAGE: missing required option --v1/);
    const nodir = runCli(['verify', '--v1', join(a, 'nope'), '--v2', join(a, 'v2')]);
    expect(nodir.code).toBe(1);
    expect(nodir.stderr).toMatch(/^ERR_NOT_FOUND: /);
    const nohome = runCli(['status', '--home', join(a, 'nope')]);
    expect(nohome.code).toBe(1);
    expect(nohome.stderr).toMatch(/^ERR_NOT_FOUND: /);
  });
});
