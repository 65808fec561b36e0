import { toHex } from '../encoding/bytes.js';
import { StoreMigrateError } from '../errors.js';
import type { MigrationProgress } from '../migration/progress.js';
import { MultiStoreV1 } from '../v1/multi-store-v1.js';
import { EXIT_OK, printResult } from './cli-context.js';
import { displayLogger, MigrationProgressDisplay } from './migration-progress.js';
import { openV2 } from './open-v2.js';
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

/** `migrate --v1 DIR --v2 DIR [--version N] [--history K] [--throttle N]`: offline migration; resumes if interrupted. */
export async function runMigrate(opts: CommandOptions): Promise<number> {
  const v1Path = requiredOption(opts, 'migrate', 'v1', '--v1 <dir>');
  const v2Path = requiredOption(opts, 'migrate', 'v2', '--v2 <dir>');
  const version = intOption(opts, 'migrate', 'version', '--version');
  const history = intOption(opts, 'migrate', 'history', '--history');
  const throttle = intOption(opts, 'migrate', 'throttle', '--throttle');
  // Bars on a terminal, plain lines elsewhere; --verbose logs print above the bars (or go to --log-file).
  const progress = new MigrationProgressDisplay({
    label: 'migrate',
    enabled: opts.progress !== false,
    sync: false,
  });
  const logger = displayLogger(opts, progress);
  const v1Db = await openExistingV1(v1Path);
  return withDatabase(v1Db, async () => {
    const v1 = await MultiStoreV1.open(v1Db, { readOnly: true });
    if (v1.latestVersion === 0)
      throw new StoreMigrateError('ERR_VERSION_NOT_FOUND', `${v1Path} has no committed version`);
    const parts = await openV2(v2Path, v1, { logger, history, throttle });
    return withDatabase(parts.db, async () => {
      const { manager, sc } = parts;
      const target = version ?? (manager.height > 0 ? manager.height : v1.latestVersion);
      if (manager.height > 0 && manager.height !== target) {
        throw new StoreMigrateError(
          'ERR_MIGRATION_RUNNING',
          `${v2Path} holds a migration at version ${manager.height}; migrate that version, or use an empty --v2`,
        );
      }
      progress.attach(manager);
      // SIGINT or SIGTERM stops the restore at its last checkpoint, closes the databases and
      // exits 130 / 143: the job did not finish, and a script or service manager must see that.
      const signals = catchSignals(logger);
      let stoppedBy: NodeJS.Signals | undefined;
      void signals.signal.then((s) => {
        stoppedBy = s;
        void manager.close();
      });
      let result: Awaited<ReturnType<typeof manager.migrate>>;
      try {
        if (sc.latestVersion >= target && parts.ss.latestVersion >= target) {
          // Already done: report it again rather than fail.
          const ci = await sc.getCommitInfo(target);
          const stores = [];
          for (const s of ci.stores) {
            const t = await sc.immutable(s.name, target);
            stores.push({
              name: s.name,
              rootHash: s.hash,
              leaves: t.size,
              nodes: t.size === 0 ? 0 : 2 * t.size - 1,
            });
          }
          result = {
            version: target,
            appHash: ci.appHash,
            stores,
            leaves: stores.reduce((a, s) => a + s.leaves, 0),
            nodes: stores.reduce((a, s) => a + s.nodes, 0),
            durationMs: 0,
            resumed: true,
          };
        } else {
          result = await manager.migrate(target);
        }
      } catch (err) {
        if (stoppedBy === undefined) throw err;
        progress.stop(manager.progress);
        printStopped(stoppedBy, manager.progress, { v1Path, v2Path, version, history, throttle });
        return signalExitCode(stoppedBy);
      } finally {
        signals.release();
        progress.stop(manager.progress);
        await manager.close();
      }
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
        history: history ?? 0,
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
      return EXIT_OK;
    });
  });
}
