import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Subscription } from 'rxjs';
import type { MigrationStatus } from '../migration/migration-status.js';
import type { RootStore } from '../v2/root/root-store.js';
import { statusDocument } from './methods.js';

/** Every value `store_migrate_phase{phase}` takes; exactly one of them is 1. */
export const PHASES = ['not-started', 'idle', 'restoring', 'syncing', 'waiting-switch', 'switched', 'failed'];

/** Commit latencies: a block commit takes milliseconds, a slow one seconds. */
const COMMIT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface RpcMetricsOptions {
  /** Also export Node's process metrics (CPU, memory, event loop, GC). Default false. */
  processMetrics?: boolean;
  /** RPC methods counted by name; any other name is counted as "other". */
  methods?: Iterable<string>;
}

/**
 * The Prometheus metrics of a running store, in a registry of our own (never prom-client's
 * global one, so two servers in one process, or a host application, do not collide). Gauges
 * read `store.status()` at scrape time; the commit histogram is fed from `store.commits$`.
 */
export class RpcMetrics {
  readonly registry = new Registry();
  readonly #store: RootStore;
  readonly #sub: Subscription;
  readonly #calls: Counter<'method' | 'outcome'>;
  readonly #methods: Set<string>;

  constructor(store: RootStore, options: RpcMetricsOptions = {}) {
    this.#store = store;
    this.#methods = new Set(options.methods ?? []);
    const registers = [this.registry];
    const phase = new Gauge({
      name: 'store_migrate_phase',
      help: 'Migration phase: 1 for the current phase, 0 for the others',
      labelNames: ['phase'],
      registers,
      collect: () => {
        const current = this.#status().phase;
        for (const p of PHASES) phase.set({ phase: p }, p === current ? 1 : 0);
        if (!PHASES.includes(current)) phase.set({ phase: current }, 1);
      },
    });
    const error = new Gauge({
      name: 'store_migrate_error',
      help: 'The code of the error a failed migration stopped with: 1 while failed (none otherwise)',
      labelNames: ['code'],
      registers,
      collect: () => {
        error.reset();
        const e = this.#status().error;
        if (e !== undefined) error.set({ code: e.code }, 1);
      },
    });
    this.#gauge(
      'store_migrate_migrated_version',
      'Last version migrated into store v2',
      (s) => s.migratedVersion,
    );
    this.#gauge(
      'store_migrate_target_version',
      'Version the migration is catching up to',
      (s) => s.targetVersion,
    );
    this.#gauge(
      'store_migrate_latest_version',
      'Latest committed version of the node',
      (s) => s.latestVersion,
    );
    this.#gauge('store_migrate_leaves_done', 'Leaves restored so far', (s) => s.progress.leavesDone ?? 0);
    this.#gauge('store_migrate_leaves_total', 'Leaves to restore', (s) => s.progress.leavesTotal ?? 0);
    this.#gauge(
      'store_migrate_rate',
      'Migration rate: leaves per second while restoring, versions per second while syncing',
      (s) => s.progress.rate ?? 0,
    );
    this.#gauge(
      'store_migrate_eta_seconds',
      'Seconds left at the current rate (NaN when unknown)',
      (s) => s.progress.etaSeconds ?? Number.NaN,
    );
    this.#gauge(
      'store_migrate_buffered_changesets',
      'Committed changesets buffered for the migration and not replayed yet',
      (s) => s.progress.bufferedChangesets,
    );
    this.#gauge('store_migrate_progress_percent', 'Migration progress in percent', (s) => s.progress.percent);
    this.#gauge('store_migrate_paused', '1 while the migration is paused', (s) => (s.paused ? 1 : 0));
    const commits = new Histogram({
      name: 'store_migrate_commit_duration_seconds',
      help: 'Block commit duration, by the store the block went to (v1 or v2)',
      labelNames: ['mode'],
      buckets: COMMIT_BUCKETS,
      registers,
    });
    // Both series exist from the start, so dashboards see the v2 series before the switch.
    for (const mode of ['v1', 'v2']) commits.zero({ mode });
    this.#sub = store.commits$.subscribe((c) => commits.observe({ mode: c.mode }, c.durationMs / 1000));
    this.#calls = new Counter({
      name: 'store_migrate_rpc_requests_total',
      help: 'JSON-RPC calls by method and outcome (ok or error)',
      labelNames: ['method', 'outcome'],
      registers,
    });
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  #status(): MigrationStatus {
    return statusDocument(this.#store);
  }

  #gauge(name: string, help: string, read: (s: MigrationStatus) => number): void {
    const g: Gauge = new Gauge({
      name,
      help,
      registers: [this.registry],
      collect: () => g.set(read(this.#status())),
    });
  }

  /** Counts one JSON-RPC call. */
  recordCall(method: string, ok: boolean): void {
    this.#calls.inc({ method: this.#methods.has(method) ? method : 'other', outcome: ok ? 'ok' : 'error' });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every metric. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  close(): void {
    this.#sub.unsubscribe();
  }
}
