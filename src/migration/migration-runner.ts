import type { Observable } from 'rxjs';
import type { VersionedChangeset } from '../encoding/changeset.js';
import type { MigrationProgress } from './progress.js';
import type { V1Writes } from './v1-version-copy.js';

/**
 * What RootStore drives while a migration runs: MigrationManager on the node's thread, or
 * MigrationThread (src/worker/) for one on a worker thread.
 */
export interface MigrationRunner {
  /** The height the migration exports at (0 before it started). */
  readonly height: number;
  /** The last version migrated into v2. */
  readonly migratedVersion: number;
  readonly progress: MigrationProgress;
  readonly progress$: Observable<MigrationProgress>;
  readonly paused: boolean;
  /** The error that stopped the migration, if any. */
  readonly error: unknown;
  pause(): void;
  resume(): void;
  setThrottle(leavesPerSecond: number | undefined): void;
  onMigrated(listener: (version: number) => void): () => void;
  /** Migrates `version` (or resumes), then syncs `changesets$` until `done$` emits. */
  start(version: number, changesets$: Observable<VersionedChangeset>, done$: Observable<void>): Promise<void>;
  /** Resolves once changeset `version` is durable in the buffer; rejects if the migration failed. */
  persisted(version: number): Promise<void>;
  /** v1 committed `version`: sync may apply it; `writes` are v1's puts for it, if RootStore kept them. */
  confirm(version: number, writes?: V1Writes): void;
  /** v1 did not commit `version`: drop it (and anything after it) from the buffer. */
  discard(version: number): Promise<void>;
}
