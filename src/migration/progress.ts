import { type Observable, Subject } from 'rxjs';

export type MigrationPhase = 'idle' | 'restoring' | 'syncing' | 'waiting-switch' | 'switched' | 'failed';

/** What `progress$` emits, at most four times a second. */
export interface MigrationProgress {
  phase: MigrationPhase;
  /** The store being restored (restore phase). */
  store: string | undefined;
  leavesDone: number;
  leavesTotal: number;
  nodes: number;
  /** Key and value bytes moved so far. */
  bytes: number;
  /** Leaves per second over the last few seconds (versions per second while syncing). */
  rate: number;
  /** Seconds left at the current rate; undefined when unknown. */
  etaSeconds: number | undefined;
  migratedVersion: number;
  targetVersion: number;
}

/** Progress before any work: what a tracker starts from. */
export const IDLE_PROGRESS: Readonly<MigrationProgress> = Object.freeze({
  phase: 'idle',
  store: undefined,
  leavesDone: 0,
  leavesTotal: 0,
  nodes: 0,
  bytes: 0,
  rate: 0,
  etaSeconds: undefined,
  migratedVersion: 0,
  targetVersion: 0,
});

const WINDOW_MS = 5000;
const THROTTLE_MS = 250;

/**
 * Counts work, computes a smoothed rate and ETA, and emits throttled snapshots.
 * A phase change is always emitted at once, so a short phase is never hidden by the throttle.
 */
export class ProgressTracker {
  readonly #subject = new Subject<MigrationProgress>();
  readonly progress$: Observable<MigrationProgress>;
  #state: MigrationProgress = { ...IDLE_PROGRESS };
  #samples: Array<[number, number]> = [];
  #lastEmitAt = -Infinity;
  #lastEmittedPhase: MigrationPhase | undefined;
  #trailing: NodeJS.Timeout | undefined;

  constructor() {
    this.progress$ = this.#subject.asObservable();
  }

  get current(): MigrationProgress {
    return { ...this.#state };
  }

  update(patch: Partial<MigrationProgress>): void {
    // A failed migration stays failed until a new one starts.
    if (this.#state.phase === 'failed' && patch.phase !== undefined) patch = { ...patch, phase: 'failed' };
    if (patch.phase !== undefined && patch.phase !== this.#state.phase) this.#samples = [];
    this.#state = { ...this.#state, ...patch };
    const now = performance.now();
    const done = this.#state.phase === 'syncing' ? this.#state.migratedVersion : this.#state.leavesDone;
    this.#samples.push([now, done]);
    while (this.#samples.length > 2 && now - this.#samples[0][0] > WINDOW_MS) this.#samples.shift();
    const [t0, d0] = this.#samples[0];
    const rate = now - t0 > 200 ? ((done - d0) * 1000) / (now - t0) : this.#state.rate;
    const left =
      this.#state.phase === 'syncing'
        ? this.#state.targetVersion - this.#state.migratedVersion
        : this.#state.leavesTotal - this.#state.leavesDone;
    this.#state.rate = rate;
    this.#state.etaSeconds = rate > 0 && left >= 0 ? left / rate : left === 0 ? 0 : undefined;
    if (this.#state.phase !== this.#lastEmittedPhase || now - this.#lastEmitAt >= THROTTLE_MS) {
      this.#emit();
    } else if (this.#trailing === undefined) {
      this.#trailing = setTimeout(() => this.#emit(), THROTTLE_MS - (now - this.#lastEmitAt));
      // Progress alone must not keep a process alive.
      this.#trailing.unref();
    }
  }

  #emit(): void {
    if (this.#trailing !== undefined) clearTimeout(this.#trailing);
    this.#trailing = undefined;
    this.#lastEmitAt = performance.now();
    this.#lastEmittedPhase = this.#state.phase;
    this.#subject.next({ ...this.#state });
  }

  /** Emits a state the throttle is holding back, now. */
  flush(): void {
    if (this.#trailing !== undefined) this.#emit();
  }

  complete(): void {
    // The last state is never lost to the throttle.
    this.flush();
    this.#subject.complete();
  }
}
