import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();
const STACK = /\n\s+at /;

/** The log file's lines, each parsed as JSON (a line that is not JSON fails the test). */
function logLines(path: string): Array<Record<string, unknown>> {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      expect(() => JSON.parse(l), l).not.toThrow();
      return JSON.parse(l) as Record<string, unknown>;
    });
}

/** A pino line printed where it should not be: a line holding a JSON object with a level. */
const PINO_LINE = /^\{.*"level":\d+/m;

describe('--log-file', () => {
  it('sends logs to the file, appended across commands, with nothing log-like on stderr', () => {
    const dir = tempDir('cli-logfile');
    const v1 = join(dir, 'application.db');
    const v2 = join(dir, 'v2');
    const logFile = join(dir, 'store-migrate.log');
    writeFileSync(logFile, '{"msg":"written before"}\n');

    // --verbose: debug lines in the file.
    const g = runCli([
      'generate',
      '--v1',
      v1,
      '--keys',
      '3000',
      '--versions',
      '3',
      '--json',
      '--no-progress',
      '--verbose',
      '--log-file',
      logFile,
    ]);
    expect(g.code, g.stderr).toBe(0);
    expect(g.stderr).not.toMatch(PINO_LINE);
    expect(JSON.parse(g.stdout)).toMatchObject({ latestVersion: 3 });

    // Without --verbose: info lines, appended after the ones before.
    const m = runCli(['migrate', '--v1', v1, '--v2', v2, '--json', '--log-file', logFile]);
    expect(m.code, m.stderr).toBe(0);
    expect(m.stderr).not.toMatch(PINO_LINE);
    expect(JSON.parse(m.stdout)).toMatchObject({ version: 3, resumed: false });

    const lines = logLines(logFile);
    expect(lines[0]).toEqual({ msg: 'written before' });
    const generated = lines.filter((l) => l.msg === 'committed');
    expect(generated.map((l) => l.version)).toEqual([1, 2, 3]);
    for (const l of generated) expect(l.level).toBe(20);
    const restoreDone = lines.find((l) => l.msg === 'restore done');
    expect(restoreDone).toMatchObject({ level: 30, component: 'migration', version: 3, leaves: 3000 });
    // The migrate run had no --verbose: no debug lines after its first line.
    const migrateStart = lines.findIndex((l) => l.msg === 'restore starting');
    expect(migrateStart).toBeGreaterThan(generated.length);
    for (const l of lines.slice(migrateStart)) expect(l.level as number).toBeGreaterThanOrEqual(30);
  });

  it('an unwritable path is a usage error: one line naming the path, exit 2, before any work', () => {
    const dir = tempDir('cli-logfile-bad');
    const v1 = join(dir, 'application.db');
    const missingDir = join(dir, 'no-such-dir', 'store-migrate.log');
    const r = runCli(['generate', '--v1', v1, '--keys', '100', '--log-file', missingDir]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const errLines = r.stderr.trim().split('\n');
    expect(errLines).toHaveLength(1);
    expect(errLines[0]).toMatch(/^ERR_USAGE: cannot write the log file /);
    expect(errLines[0]).toContain(missingDir);
    expect(errLines[0]).toContain('does not exist');
    // Nothing was generated, and the missing directory was not created.
    expect(existsSync(v1)).toBe(false);
    expect(existsSync(join(dir, 'no-such-dir'))).toBe(false);

    // A directory instead of a file, on another command.
    const isDir = runCli(['inspect', '--v1', v1, '--log-file', dir]);
    expect(isDir.code).toBe(2);
    expect(isDir.stderr.trim()).toBe(
      `ERR_USAGE: cannot write the log file ${dir}: it is a directory (see: store-migrate inspect --help)`,
    );
    expect(isDir.stderr).not.toMatch(STACK);
  });
});
