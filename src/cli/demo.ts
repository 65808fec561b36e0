import { demoPaths } from '../demo/demo-home.js';
import { DEMO_DEFAULTS, type DemoSummary, runDemo as runDemoNode } from '../demo/demo-node.js';
import type { SyntheticStateProgress } from '../workload/synthetic-state.js';
import { EXIT_FAILED, EXIT_OK, printResult } from './cli-context.js';
import { displayLogger, MigrationProgressDisplay } from './migration-progress.js';
import { type CommandOptions, choiceOption, intOption, workerOptions } from './options.js';
import { formatCount, formatDuration, ProgressLine } from './progress-line.js';
import { catchSignals, signalExitCode } from './signals.js';

/**
 * `demo [--home DIR] [--stores N] [--keys N] [--layout L] [--blocks N] [--block-keys N] [--block-interval-ms N]
 * [--rpc-port P] [--throttle N] [--blocks-before N] [--no-worker] [--[no-]changeset-journal]
 * [--worker-nice N]`: a simulated node that migrates in the background while it
 * commits blocks. Exits 1 when an app hash differs from the reference's.
 */
export async function runDemo(opts: CommandOptions): Promise<number> {
  const options = {
    home: typeof opts.home === 'string' ? opts.home : undefined,
    stores: intOption(opts, 'demo', 'stores', '--stores'),
    keys: intOption(opts, 'demo', 'keys', '--keys'),
    layout: choiceOption(opts, 'demo', 'layout', '--layout', ['legacy', 'node-key'] as const),
    blocks: intOption(opts, 'demo', 'blocks', '--blocks', 0),
    blockKeys: intOption(opts, 'demo', 'blockKeys', '--block-keys'),
    blockIntervalMs: intOption(opts, 'demo', 'blockIntervalMs', '--block-interval-ms', 0),
    rpcPort: intOption(opts, 'demo', 'rpcPort', '--rpc-port', 0),
    throttle: intOption(opts, 'demo', 'throttle', '--throttle'),
    blocksBefore: intOption(opts, 'demo', 'blocksBefore', '--blocks-before', 0),
    ...workerOptions(opts, 'demo'),
  };
  const enabled = opts.progress !== false;
  const display = new MigrationProgressDisplay({ label: 'demo', enabled });
  const generation = new ProgressLine({ label: 'demo: generate', unit: 'changes', enabled });
  const log = (message: string) => {
    generation.stop();
    display.log(message);
  };
  const logger = displayLogger(opts, display);
  // SIGINT or SIGTERM stops at the next block boundary and closes the node (its migration keeps
  // its checkpoint), then exits 130 / 143: the demo did not finish.
  const signals = catchSignals(logger);
  const stop = new AbortController();
  let stoppedBy: NodeJS.Signals | undefined;
  void signals.signal.then((s) => {
    stoppedBy = s;
    stop.abort(new Error(`stopped by ${s}`));
  });
  let summary: DemoSummary;
  try {
    summary = await runDemoNode(
      { ...options, logger, signal: stop.signal },
      {
        log,
        onGenerate: (p: SyntheticStateProgress) => {
          const note = `${p.phase === 'build' ? 'building' : p.phase === 'commit' ? 'committing' : 'committed'} version ${p.version}/${p.versions}`;
          generation.update({ done: p.changesCommitted, total: p.changesTotal, note }, p.phase === 'commit');
        },
        onRootStore: (store) => {
          generation.stop();
          display.attach(store);
        },
        onBlock: (b) => {
          const where = b.stage === 'during' ? 'v1, migrating' : b.mode;
          display.setStatus(
            `block ${b.version} (${where}): commit ${b.latencyMs.toFixed(1)} ms, app hash ${b.appHashOk ? 'matches the reference' : 'DIFFERS from the reference'}`,
          );
        },
      },
    );
  } catch (err) {
    if (stoppedBy === undefined) throw err;
    generation.stop();
    display.stop();
    const home = demoPaths(options.home ?? DEMO_DEFAULTS.home).home;
    process.stderr.write(
      `stopped on ${stoppedBy}; the node home is ${home}, closed with its migration checkpoint.\n` +
        `Resume that node with: store-migrate serve --home ${home}   (or run the demo again to start over)\n`,
    );
    return signalExitCode(stoppedBy);
  } finally {
    signals.release();
    generation.stop();
    display.stop();
  }
  printResult(opts, summary, () => formatSummary(summary));
  return summary.appHashContinuity ? EXIT_OK : EXIT_FAILED;
}

const ratio = (r: number | null) => (r === null ? '-' : `${r.toFixed(2)}×`).padStart(8);

/** The human form of the demo's result. */
export function formatSummary(s: DemoSummary): string {
  const lat = s.commitLatencyMs;
  const row = (name: string, l: { p50: number; p99: number; count: number }) =>
    `    ${name.padEnd(20)} ${l.p50.toFixed(1).padStart(8)} ${l.p99.toFixed(1).padStart(8)} ${String(l.count).padStart(7)}`;
  const m = s.migration;
  const lines = [
    `demo finished in ${formatDuration(s.durationMs / 1000)}`,
    `  switched to store v2 after height ${s.switchedAtVersion} (the migration exported height ${m.height})`,
    `  final height ${s.finalVersion}, app hash ${s.appHash}`,
    `  app-hash continuity: ${s.appHashContinuity} (${
      s.appHashContinuity
        ? `every height 1..${s.finalVersion} matches the reference v1`
        : `${s.mismatches.length} heights differ, first ${s.mismatches[0]?.version}`
    })`,
    '  commit latency (ms)       p50      p99  blocks',
    row('before migration', lat.before),
    row('during migration', lat.during),
    row('after switch (v2)', lat.after),
    row('all blocks', lat),
    `    during ÷ before      ${ratio(lat.duringOverBefore.p50)} ${ratio(lat.duringOverBefore.p99)}`,
    `  migration: ${formatCount(m.leaves)} leaves restored in ${formatDuration(m.restoreMs / 1000)} ` +
      `(${formatCount(m.leavesPerSec)} leaves/s), ${m.syncedVersions} versions replayed, ` +
      `switched ${formatDuration(m.durationMs / 1000)} after the start${m.throttle ? ` (throttle ${formatCount(m.throttle)}/s)` : ''}`,
    `  v1 ${s.state.layout} layout; migration on ${m.thread === 'worker' ? `the worker thread (changeset journal ${m.changesetJournal ? 'on' : 'off'}, nice ${m.workerNice})` : "the node's thread"}`,
    `  blocks: ${s.blocks.changesPerBlock} changes every ${s.blocks.intervalMs} ms ` +
      `(as committed: p50 ${s.blocks.actualIntervalMs.p50} ms, max ${s.blocks.actualIntervalMs.max} ms); ` +
      `${s.blocks.before} before, ${s.blocks.during} during, ${s.blocks.after} after the migration`,
    '  data:',
    `    store v1 (node)     ${s.paths.v1}`,
    `    store v2 (node)     ${s.paths.v2}`,
    `    reference v1        ${s.paths.reference}`,
  ];
  if (s.rpc) lines.push(`    rpc (stopped)       ${s.rpc.url}`);
  return lines.join('\n');
}
