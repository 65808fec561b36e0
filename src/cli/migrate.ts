import { toHex } from '../encoding/bytes.js';
import { StoreMigrateError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { MigrationProgress } from '../migration/progress.js';
import { MultiStoreV1 } from '../v1/multi-store-v1.js';
import { openV2, type V2Parts } from '../v2/home/open-v2-dir.js';
import { EXIT_OK, printResult } from './cli-context.js';
import { displayLogger, MigrationProgressDisplay } from './migration-progress.js';
import { type CommandOptions, intOption, openExistingV1, requiredOption, withDatabase } from './options.js';
import { formatCount, formatDuration } from './progress-line.js';
import { catchSignals, signalExitCode } from './signals.js';

/** Where a stopped migration stands, and the command that resumes it (stderr). */
function printStopped(
  signal: NodeJS.Signals,
  p: MigrationProgress,
  o: { v1Path: string; v2Path: string; version?: number; history?: number; throttle?: number },
): void {
  const resume = [
    'store-migrate migrate',
    `--v1 ${o.v1Path}`,
    `--v2 ${o.v2Path}`,
    ...(o.version === undefined ? [] : [`--version ${o.version}`]),
    ...(o.history === undefined ? [] : [`--history ${o.history}`]),
    ...(o.throttle === undefined ? [] : [`--throttle ${o.throttle}`]),
  ].join(' ');
  const where =
    p.phase === 'restoring'
      ? `restoring version ${p.targetVersion}: ${formatCount(p.leavesDone)} of ${formatCount(p.leavesTotal)} leaves${p.store ? ` (store ${p.store})` : ''}`
      : `phase ${p.phase}, version ${p.targetVersion}`;
  process.stderr.write(
    `stopped on ${signal}, ${where}. The restore checkpoint is in ${o.v2Path}.\n` +
      `Run the same command to resume: ${resume}\n`,
  );
}

interface MigrateArgs {
  v1Path: string;
  v2Path: string;
  version?: number;
  history?: number;
  throttle?: number;
}

type MigrateResult = Awaited<ReturnType<V2Parts['manager']['migrate']>>;

/** `migrate --v1 DIR --v2 DIR [--version N] [--history K] [--throttle N]`: offline migration; resumes if interrupted. */
export async function runMigrate(opts: CommandOptions): Promise<number> {
  const args: MigrateArgs = {
    v1Path: requiredOption(opts, 'migrate', 'v1', '--v1 <dir>'),
    v2Path: requiredOption(opts, 'migrate', 'v2', '--v2 <dir>'),
    version: intOption(opts, 'migrate', 'version', '--version'),
    history: intOption(opts, 'migrate', 'history', '--history'),
    throttle: intOption(opts, 'migrate', 'throttle', '--throttle'),
  };
  // Bars on a terminal, plain lines elsewhere; --verbose logs print above the bars (or go to --log-file).
  const progress = new MigrationProgressDisplay({
    label: 'migrate',
    enabled: opts.progress !== false,
    sync: false,
  });
  const logger = displayLogger(opts, progress);
  const v1Db = await openExistingV1(args.v1Path);
  return withDatabase(v1Db, async () => {
    const v1 = await MultiStoreV1.open(v1Db, { readOnly: true });
    if (v1.latestVersion === 0)
      throw new StoreMigrateError('ERR_VERSION_NOT_FOUND', `${args.v1Path} has no committed version`);
    const parts = await openV2(args.v2Path, v1, { logger, history: args.history, throttle: args.throttle });
    return withDatabase(parts.db, async () => {
      const target = migrationTarget(parts, v1, args);
      progress.attach(parts.manager);
      let outcome: Awaited<ReturnType<typeof migrateUntilSignal>>;
      try {
        outcome = await migrateUntilSignal(parts, target, logger);
      } finally {
        progress.stop(parts.manager.progress);
      }
      if ('stoppedBy' in outcome) {
        printStopped(outcome.stoppedBy, parts.manager.progress, args);
        return signalExitCode(outcome.stoppedBy);
      }
      printMigrated(opts, outcome.result, args.history ?? 0);
      return EXIT_OK;
    });
  });
}

/** The version to migrate: --version, or the one a v2 directory already holds, or v1's latest. */
function migrationTarget(parts: V2Parts, v1: MultiStoreV1, args: MigrateArgs): number {
  const { manager } = parts;
  const target = args.version ?? (manager.height > 0 ? manager.height : v1.latestVersion);
  if (manager.height > 0 && manager.height !== target) {
    throw new StoreMigrateError(
      'ERR_MIGRATION_RUNNING',
      `${args.v2Path} holds a migration at version ${manager.height}; migrate that version, or use an empty --v2`,
    );
  }
  return target;
}

/**
 * Runs (or resumes) the migration. SIGINT or SIGTERM stops it at its last checkpoint and
 * closes the databases; the caller exits 130 / 143, since the job did not finish.
 */
async function migrateUntilSignal(
  parts: V2Parts,
  target: number,
  logger: Logger,
): Promise<{ result: MigrateResult } | { stoppedBy: NodeJS.Signals }> {
  const { manager } = parts;
  const signals = catchSignals(logger);
  let stoppedBy: NodeJS.Signals | undefined;
  void signals.signal.then((s) => {
    stoppedBy = s;
    void manager.close();
  });
  try {
    const done = parts.sc.latestVersion >= target && parts.ss.latestVersion >= target;
    return { result: done ? await alreadyMigrated(parts, target) : await manager.migrate(target) };
  } catch (err) {
    if (stoppedBy === undefined) throw err;
    return { stoppedBy };
  } finally {
    signals.release();
    await manager.close();
  }
}

/** A migration that already finished: report it again rather than fail. */
async function alreadyMigrated(parts: V2Parts, target: number): Promise<MigrateResult> {
  const ci = await parts.sc.getCommitInfo(target);
  const stores = [];
  for (const s of ci.stores) {
    const t = await parts.sc.immutable(s.name, target);
    stores.push({ name: s.name, rootHash: s.hash, leaves: t.size, nodes: t.size === 0 ? 0 : 2 * t.size - 1 });
  }
  return {
    version: target,
    appHash: ci.appHash,
    stores,
    leaves: stores.reduce((a, s) => a + s.leaves, 0),
    nodes: stores.reduce((a, s) => a + s.nodes, 0),
    durationMs: 0,
    resumed: true,
  };
}

function printMigrated(opts: CommandOptions, result: MigrateResult, history: number): void {
  const json = {
    version: result.version,
    appHash: result.appHash ? toHex(result.appHash) : undefined,
    stores: result.stores.map((s) => ({
      name: s.name,
      rootHash: s.rootHash ? toHex(s.rootHash) : undefined,
      leaves: s.leaves,
      nodes: s.nodes,
    })),
    leaves: result.leaves,
    nodes: result.nodes,
    durationMs: result.durationMs,
    resumed: result.resumed,
    history,
  };
  printResult(opts, json, () =>
    [
      `migrated version ${json.version}${json.resumed ? ' (resumed)' : ''} in ${formatDuration(json.durationMs / 1000)}`,
      `app hash ${json.appHash}`,
      `${formatCount(json.leaves)} leaves, ${formatCount(json.nodes)} nodes`,
      ...json.stores.map(
        (s) => `  ${s.name.padEnd(16)} ${formatCount(s.leaves).padStart(12)} leaves  ${s.rootHash}`,
      ),
    ].join('\n'),
  );
}
