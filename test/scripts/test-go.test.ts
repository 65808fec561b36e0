import { spawnSync } from 'node:child_process';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTempDirs } from '../helpers/temp-dir.js';

// `npm run test:go` where the Go cross-checks cannot run: one line, exit 0, and quickly.
const SCRIPT = new URL('../../scripts/test-go.sh', import.meta.url).pathname;
const tempDir = useTempDirs();

function runScript(env: NodeJS.ProcessEnv): { code: number | null; stdout: string; ms: number } {
  const started = Date.now();
  const r = spawnSync('bash', [SCRIPT], { env, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout + r.stderr, ms: Date.now() - started };
}

describe('scripts/test-go.sh skips cleanly', () => {
  it('without a Go toolchain on PATH', () => {
    const r = runScript({ PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, HOME: process.env.HOME });
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      'test:go skipped: go is not on PATH (the Go cross-checks need Go 1.23 or later)',
    ]);
  });

  it.runIf(spawnSync('go', ['version']).status === 0)(
    'when the module proxy refuses (nothing cached)',
    () => {
      const r = runScript({
        ...process.env,
        GOMODCACHE: tempDir('gomodcache'),
        GOPROXY: 'off',
        GOFLAGS: '-mod=mod',
      });
      expect(r.code).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /^test:go skipped: the pinned Go modules of v045 could not be had \(.*GOPROXY=off/,
      );
      expect(r.ms).toBeLessThan(30_000);
    },
  );
});
