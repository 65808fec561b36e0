import { openDb } from '../db/open-db.js';
import { StoreMigrateError } from '../errors.js';
import { MultiStoreV1 } from '../v1/multi-store-v1.js';
import {
  generateSyntheticState,
  SYNTHETIC_DEFAULTS,
  type SyntheticStateProgress,
  type SyntheticStateStats,
} from '../workload/synthetic-state.js';
import { EXIT_OK, printResult } from './cli-context.js';
import {
  type CommandOptions,
  choiceOption,
  commandLogger,
  intOption,
  requiredOption,
  v1PathState,
  withDatabase,
} from './options.js';
import { formatCount, formatDuration, ProgressLine } from './progress-line.js';
import { formatV1Summary, summarizeV1, type V1Summary } from './v1-summary.js';

/** `generate --json`: the inspect fields of the result, and what was generated. */
export interface GenerateResult extends V1Summary {
  generated: {
    stores: number;
    keys: number;
    versions: number;
    seed: number;
    created: number;
    updated: number;
    deleted: number;
    valueBytes: number;
    durationMs: number;
  };
}

/** `generate --v1 DIR [--stores N] [--keys N] [--versions N] [--seed N] [--layout L]`: a synthetic v1 state with history. */
export async function runGenerate(opts: CommandOptions): Promise<number> {
  const path = requiredOption(opts, 'generate', 'v1', '--v1 <dir>');
  const options = {
    stores: intOption(opts, 'generate', 'stores', '--stores') ?? SYNTHETIC_DEFAULTS.stores,
    keys: intOption(opts, 'generate', 'keys', '--keys') ?? SYNTHETIC_DEFAULTS.keys,
    versions: intOption(opts, 'generate', 'versions', '--versions') ?? SYNTHETIC_DEFAULTS.versions,
    seed: intOption(opts, 'generate', 'seed', '--seed', 0) ?? SYNTHETIC_DEFAULTS.seed,
    layout:
      choiceOption(opts, 'generate', 'layout', '--layout', ['legacy', 'node-key'] as const) ??
      SYNTHETIC_DEFAULTS.layout,
  };
  const log = commandLogger(opts);
  // Only a new or empty directory, or an empty database: never mix generated data into real data.
  const state = v1PathState(path);
  const db = await openDb(path, { createIfMissing: true });
  return withDatabase(db, async () => {
    if (state === 'database') {
      const existing = await MultiStoreV1.open(db, { readOnly: true });
      if (existing.layout === 'iavl' || existing.latestVersion > 0) {
        throw new StoreMigrateError(
          'ERR_VERSION_EXISTS',
          `${path} already holds ${existing.layout === 'iavl' ? 'an iavl tree' : `a v1 store at version ${existing.latestVersion}`}; generate writes only into a new or empty directory`,
          { details: { path } },
        );
      }
    }
    const progress = new ProgressLine({
      label: 'generate',
      unit: 'changes',
      enabled: opts.progress !== false,
    });
    const started = Date.now();
    const onProgress = (p: SyntheticStateProgress) => {
      const what = `version ${p.version}/${p.versions} (${formatCount(p.versionChanges)} changes)`;
      const note = `${p.phase === 'build' ? 'building' : p.phase === 'commit' ? 'committing' : 'committed'} ${what}`;
      // Commits are what take time, so the count is of committed changes; a commit can run
      // for a while (version 1 holds most keys), so the line always says when one starts.
      progress.update({ done: p.changesCommitted, total: p.changesTotal, note }, p.phase === 'commit');
      if (p.phase !== 'build') log.debug({ version: p.version, changes: p.versionChanges }, p.phase);
    };
    let stats: SyntheticStateStats;
    try {
      stats = await generateSyntheticState(db, options, onProgress);
    } finally {
      progress.stop();
    }
    const durationMs = Date.now() - started;
    const ms = await MultiStoreV1.open(db, { readOnly: true });
    const summary = await summarizeV1(ms);
    const result: GenerateResult = {
      ...summary,
      generated: {
        stores: options.stores,
        keys: stats.keys,
        versions: stats.versions,
        seed: options.seed,
        created: stats.created,
        updated: stats.updated,
        deleted: stats.deleted,
        valueBytes: stats.valueBytes,
        durationMs,
      },
    };
    printResult(opts, result, () =>
      [
        `generated ${formatCount(stats.keys)} keys in ${options.stores} stores over ${stats.versions} versions ` +
          `(seed ${options.seed}; ${formatCount(stats.created)} created, ${formatCount(stats.updated)} updated, ` +
          `${formatCount(stats.deleted)} deleted) in ${formatDuration(durationMs / 1000)}`,
        '',
        formatV1Summary(summary, path),
      ].join('\n'),
    );
    return EXIT_OK;
  });
}
