import type { MigrationPhase, MigrationProgress } from './progress.js';

/**
 * The one status of a migration: what `status --json`, the `migration_status` RPC,
 * `RootStore.status()` and the metrics all report.
 */
export interface MigrationStatus {
  phase: MigrationPhase | 'not-started';
  migratedVersion: number;
  targetVersion: number;
  latestVersion: number;
  switchedAtVersion: number | undefined;
  switchPostponed: boolean;
  paused: boolean;
  /** Why the migration failed (phase `failed`), live or as recorded in v2. */
  error: { code: string; message: string } | undefined;
  progress: {
    restoredStores: number;
    stores: number;
    bufferedChangesets: number;
    percent: number;
    // Only a running migration knows these; a home at rest leaves them out.
  } & Partial<
    Pick<
      MigrationProgress,
      'store' | 'leavesDone' | 'leavesTotal' | 'nodes' | 'bytes' | 'rate' | 'etaSeconds'
    >
  >;
}

/** What a running migration knows beyond what is persisted. */
export interface LiveMigrationState {
  /** Whether a migration was started in this process (RootStore's background run). */
  started: boolean;
  progress: MigrationProgress;
  paused: boolean;
  switchPostponed: boolean;
  /** The error the migration stopped with in this process. */
  error?: { code: string; message: string };
}

/** What v1 and v2 hold: enough to describe a home at rest. */
export interface PersistedMigrationState {
  /** v1's stores, in the order the restore exports them (sorted by name). */
  stores: string[];
  v1LatestVersion: number;
  /** StateCommitment's latest version (the node's latest once switched). */
  v2LatestVersion: number;
  /** The height the migration exports (0: none yet). */
  height: number;
  migratedVersion: number;
  switchedAtVersion: number | undefined;
  /** The failure recorded in v2 by an earlier run. */
  failure: { code: string; message: string } | undefined;
  /** Stores StateCommitment has finished restoring (its restore checkpoint). */
  restoredStores: string[];
  /** First and last version in the changeset buffer (0 when empty). */
  buffer: { first: number; last: number };
}

/**
 * The status, from persisted state and, when the migration runs in this process, its live
 * state. A pure function: the same inputs always give the same status.
 * @example
 * const s = migrationStatus(persisted); // a home at rest (`status --json`)
 * const t = migrationStatus(persisted, { started: true, progress, paused, switchPostponed }); // live
 */
export function migrationStatus(p: PersistedMigrationState, live?: LiveMigrationState): MigrationStatus {
  const switched = p.switchedAtVersion !== undefined;
  const error = switched ? undefined : (live?.error ?? p.failure);
  const phase = phaseOf(p, live, error !== undefined);
  const caughtUp = p.height > 0 && p.migratedVersion >= p.height;
  const restoredAll = switched || caughtUp || phase === 'syncing' || phase === 'waiting-switch';
  const lp = live?.progress;
  const restoredStores = restoredAll
    ? p.stores.length
    : lp?.store !== undefined
      ? Math.max(p.stores.indexOf(lp.store), 0)
      : p.restoredStores.length;
  const percent = restoredAll
    ? 100
    : lp !== undefined && lp.phase === 'restoring' && lp.leavesTotal > 0
      ? Math.floor((Math.min(lp.leavesDone, lp.leavesTotal) / lp.leavesTotal) * 99)
      : p.stores.length === 0
        ? 0
        : Math.floor((restoredStores / p.stores.length) * 99);
  const latest = switched ? p.v2LatestVersion : p.v1LatestVersion;
  const { first, last } = p.buffer;
  return {
    phase,
    migratedVersion: p.migratedVersion,
    targetVersion: latest,
    latestVersion: latest,
    switchedAtVersion: p.switchedAtVersion,
    switchPostponed: live?.switchPostponed ?? false,
    paused: live?.paused ?? false,
    error,
    progress: {
      restoredStores,
      stores: p.stores.length,
      bufferedChangesets: last > 0 ? last - Math.max(first - 1, p.migratedVersion) : 0,
      percent,
      ...(lp === undefined
        ? {}
        : {
            store: lp.store,
            leavesDone: lp.leavesDone,
            leavesTotal: lp.leavesTotal,
            nodes: lp.nodes,
            bytes: lp.bytes,
            rate: lp.rate,
            etaSeconds: lp.etaSeconds,
          }),
    },
  };
}

function phaseOf(
  p: PersistedMigrationState,
  live: LiveMigrationState | undefined,
  failed: boolean,
): MigrationStatus['phase'] {
  if (p.switchedAtVersion !== undefined) return 'switched';
  if (failed) return 'failed';
  if (live !== undefined) {
    const phase = live.progress.phase;
    if (phase === 'idle') return live.started ? 'restoring' : 'not-started';
    if (phase === 'syncing' && live.switchPostponed && p.migratedVersion === p.v1LatestVersion)
      return 'waiting-switch';
    return phase;
  }
  if (p.height === 0) return 'not-started';
  return p.migratedVersion < p.height ? 'restoring' : 'syncing';
}
