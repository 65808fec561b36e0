import { describe, expect, it } from 'vitest';
import {
  type LiveMigrationState,
  migrationStatus,
  type PersistedMigrationState,
} from '../../src/migration/migration-status.js';
import { IDLE_PROGRESS, type MigrationProgress } from '../../src/migration/progress.js';

// One status model for `status --json`, migration_status, RootStore.status() and the metrics.
const base: PersistedMigrationState = {
  stores: ['acc', 'bank', 'gov', 'staking'],
  v1LatestVersion: 20,
  v2LatestVersion: 0,
  height: 0,
  migratedVersion: 0,
  switchedAtVersion: undefined,
  failure: undefined,
  restoredStores: [],
  buffer: { first: 0, last: 0 },
};
const live = (
  progress: Partial<MigrationProgress>,
  more: Partial<LiveMigrationState> = {},
): LiveMigrationState => ({
  started: true,
  progress: { ...IDLE_PROGRESS, ...progress },
  paused: false,
  switchPostponed: false,
  ...more,
});
const failure = { code: 'ERR_CHANGESET_GAP', message: 'gap at 13' };

describe('migrationStatus', () => {
  it.each<[string, PersistedMigrationState, LiveMigrationState | undefined, Record<string, unknown>]>([
    [
      'a home never migrated',
      base,
      undefined,
      { phase: 'not-started', progress: { restoredStores: 0, percent: 0 } },
    ],
    [
      'at rest, two of four stores restored',
      { ...base, height: 20, restoredStores: ['acc', 'bank'] },
      undefined,
      { phase: 'restoring', progress: { restoredStores: 2, stores: 4, percent: 49 } },
    ],
    [
      'at rest, restored, three blocks buffered',
      { ...base, height: 20, migratedVersion: 20, v1LatestVersion: 23, buffer: { first: 21, last: 23 } },
      undefined,
      {
        phase: 'syncing',
        latestVersion: 23,
        progress: { restoredStores: 4, percent: 100, bufferedChangesets: 3 },
      },
    ],
    [
      'at rest, failed: the recorded error',
      { ...base, height: 20, migratedVersion: 20, failure },
      undefined,
      { phase: 'failed', error: failure },
    ],
    [
      'at rest, switched: v2 is the latest, failure records no longer count',
      { ...base, height: 20, migratedVersion: 25, v2LatestVersion: 30, switchedAtVersion: 25, failure },
      undefined,
      { phase: 'switched', latestVersion: 30, switchedAtVersion: 25, error: undefined },
    ],
    [
      'live, restoring the third store',
      { ...base, height: 20 },
      live({ phase: 'restoring', store: 'gov', leavesDone: 500, leavesTotal: 1000 }),
      { phase: 'restoring', progress: { restoredStores: 2, percent: 49, store: 'gov', leavesDone: 500 } },
    ],
    ['live, started but idle yet', { ...base, height: 20 }, live({}), { phase: 'restoring' }],
    ['live, not started (migration off)', base, live({}, { started: false }), { phase: 'not-started' }],
    [
      'live, caught up with the switch postponed',
      { ...base, height: 20, migratedVersion: 20 },
      live({ phase: 'syncing' }, { switchPostponed: true, paused: true }),
      { phase: 'waiting-switch', switchPostponed: true, paused: true, progress: { percent: 100 } },
    ],
    [
      'live, failed: the error of this run',
      { ...base, height: 20 },
      live({ phase: 'restoring' }, { error: failure }),
      { phase: 'failed', error: failure },
    ],
  ])('%s', (_, persisted, liveState, want) => {
    expect(migrationStatus(persisted, liveState)).toMatchObject(want);
  });
});
