import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();

// Small blocks: a block every 20 ms leaves the sync time to catch up only when blocks are light.
const TINY = [
  '--keys',
  '3000',
  '--stores',
  '2',
  '--blocks',
  '5',
  '--block-interval-ms',
  '20',
  '--block-keys',
  '10',
];

describe('demo', () => {
  it('--json prints one document with the contract fields; app hashes match at every height', () => {
    const home = join(tempDir('cli-demo'), 'home');
    const r = runCli(['demo', '--home', home, ...TINY, '--json', '--no-progress']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({
      appHashContinuity: true,
      mismatches: [],
      paths: {
        home,
        v1: join(home, 'application.db'),
        v2: join(home, 'v2'),
        reference: join(home, 'reference.db'),
      },
      rpc: null,
    });
    expect(Number.isInteger(s.switchedAtVersion)).toBe(true);
    expect(s.finalVersion).toBe(s.switchedAtVersion + 5);
    expect(s.appHash).toMatch(/^[0-9a-f]{64}$/);
    for (const l of [
      s.commitLatencyMs,
      s.commitLatencyMs.before,
      s.commitLatencyMs.during,
      s.commitLatencyMs.after,
    ]) {
      expect(l.p50).toBeGreaterThan(0);
      expect(l.p99).toBeGreaterThanOrEqual(l.p50);
    }
    const { duringOverBefore } = s.commitLatencyMs;
    expect(duringOverBefore.p50).toBeCloseTo(s.commitLatencyMs.during.p50 / s.commitLatencyMs.before.p50, 1);
    expect(duringOverBefore.p99).toBeCloseTo(s.commitLatencyMs.during.p99 / s.commitLatencyMs.before.p99, 1);
    expect(s.migration).toMatchObject({ height: expect.any(Number), leaves: expect.any(Number) });
    // A v0.50+ v1 by default, with the worker tuned for spaced blocks.
    expect(s.state.layout).toBe('node-key');
    expect(s.migration).toMatchObject({ thread: 'worker', changesetJournal: true, workerNice: 10 });
    expect(s.migration.leavesPerSec).toBeGreaterThan(0);
    expect(s.migration.durationMs).toBeGreaterThan(0);
    // Messages go to stderr, the document alone to stdout.
    expect(r.stderr).toMatch(/switched to store v2 after height/);
    expect(r.stderr).not.toMatch(/\n\s+at /);

    // The human form, in the same home (the earlier run's data is wiped first).
    const h = runCli([
      'demo',
      '--home',
      home,
      ...TINY,
      '--blocks',
      '2',
      '--layout',
      'legacy',
      '--no-progress',
    ]);
    expect(h.code, h.stderr).toBe(0);
    expect(h.stdout).toMatch(/^demo finished in /);
    expect(h.stdout).toMatch(/app-hash continuity: true/);
    expect(h.stdout).toMatch(/before migration +\d/);
    expect(h.stdout).toMatch(/during ÷ before +\d+\.\d\d× +\d+\.\d\d×/);
    expect(h.stdout).toContain(join(home, 'reference.db'));
    // A legacy v1's sync replays every block: no journal and no nice by default.
    expect(h.stdout).toContain(
      'v1 legacy layout; migration on the worker thread (changeset journal off, nice 0)',
    );
  });

  it('--layout node-key generates a v0.50+ v1; --no-changeset-journal and --worker-nice reach the node', () => {
    const home = join(tempDir('cli-demo-nk'), 'home');
    const tuned = ['--layout', 'node-key', '--no-changeset-journal', '--worker-nice', '5'];
    const r = runCli(['demo', '--home', home, ...TINY, ...tuned, '--json', '--no-progress', '--verbose']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({ appHashContinuity: true, mismatches: [], state: { layout: 'node-key' } });
    expect(s.migration).toMatchObject({ changesetJournal: false, workerNice: 5 });
    expect(s.finalVersion).toBe(s.switchedAtVersion + 5);
    // The reference is the generated v1 as it was, fed the same blocks: its trees are iavl v1's.
    const v1 = runCli(['inspect', '--v1', join(home, 'reference.db'), '--json']);
    expect(v1.code, v1.stderr).toBe(0);
    const layouts = JSON.parse(v1.stdout).stores.map((x: { treeLayout: string }) => x.treeLayout);
    expect(layouts).toEqual(Array(2).fill('node-key'));
    // The worker was started with the journal and the nice value (its debug log says so).
    expect(r.stderr).toMatch(/"journal":false/);
    expect(r.stderr).toMatch(/"nice":5/);
  });

  it('refuses a home it did not make (exit 2), and bad options', () => {
    const home = tempDir('cli-demo-other');
    writeFileSync(join(home, 'notes.txt'), 'mine');
    const r = runCli(['demo', '--home', home, ...TINY, '--json']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toMatch(
      /^ERR_INVALID_PARAMS: .* is not empty and was not made by store-migrate demo/,
    );
    const bad = runCli(['demo', '--home', join(home, 'x'), '--keys', 'many']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^ERR_USAGE: --keys must be a positive integer/);
    for (const [args, message] of [
      [['--layout', 'mixed'], '--layout must be one of legacy, node-key'],
      [['--worker-nice', '20'], '--worker-nice must be at most 19'],
      [['--worker-nice', '-1'], '--worker-nice must be an integer of at least 0'],
      [['--no-worker', '--changeset-journal'], '--changeset-journal tunes the worker thread'],
      [['--no-worker', '--worker-nice', '3'], '--worker-nice tunes the worker thread'],
    ] as const) {
      const u = runCli(['demo', '--home', join(home, 'y'), ...args]);
      expect(u.code, args.join(' ')).toBe(2);
      expect(u.stderr, args.join(' ')).toMatch(/^ERR_USAGE: /);
      expect(u.stderr, args.join(' ')).toContain(message);
    }
  });
});
