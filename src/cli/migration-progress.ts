import cliProgress from 'cli-progress';
import type { Observable, Subscription } from 'rxjs';
import type { Logger } from '../logger.js';
import type { MigrationProgress } from '../migration/progress.js';
import type { RootStoreEvent } from '../v2/root/root-store.js';
import type { GlobalOptions } from './cli-context.js';
import { commandLogger } from './options.js';
import { formatCount, formatDuration, ProgressLine } from './progress-line.js';

/** The line of each migration phase bar on a terminal. */
export const BAR_FORMAT = '{phase} |{bar}| {percentage}% {value}/{total} {rate}/s ETA {eta}';
/** Width of the `{phase}` column, so the bars line up. */
const PHASE_WIDTH = 20;

export interface MigrationProgressOptions {
  /** The command, first on plain lines ("migrate", "demo"). */
  label: string;
  /** false with --no-progress: no bars and no periodic lines (log() still prints). */
  enabled: boolean;
  /** Default process.stderr. Bars when it is a terminal (`isTTY`), plain lines otherwise. */
  stream?: NodeJS.WriteStream;
  /** Show the sync phase (replaying changesets after the restore). Default true. */
  sync?: boolean;
  /** Interval between plain lines. Default 2 s. */
  plainIntervalMs?: number;
  /** Terminal redraws per second. Default 10. */
  fps?: number;
}

/** Where the display reads from: a MigrationManager's or a RootStore's streams. */
export interface MigrationProgressSource {
  progress$: Observable<MigrationProgress>;
  events$?: Observable<RootStoreEvent>;
  /** A RootStore's latest committed version: what the sync is catching up with. */
  readonly latestVersion?: number;
}

const ERASE_LINE = '\x1b[2K';
const ERASE_RIGHT = '\x1b[K';

/** Sync rate window, as the tracker's. */
const SYNC_WINDOW_MS = 5000;

interface BarPayload {
  phase: string;
  rate: string;
  eta: string;
  /** A status line rather than a bar: printed as is. */
  text?: string;
}

type Bar = ReturnType<cliProgress.MultiBar['create']>;

/**
 * Migration progress on stderr, fed by `progress$` (and a RootStore's `events$`). On a
 * terminal: one cli-progress bar per phase (restore: leaves done of the total, sync: the
 * migrated version against the target), each with its rate and ETA, plus an optional status
 * line. Elsewhere: a plain line every few seconds. Disabled: nothing. Messages go through
 * log(), which prints them above the bars instead of through them.
 */
export class MigrationProgressDisplay {
  readonly #label: string;
  readonly #enabled: boolean;
  readonly #stream: NodeJS.WriteStream;
  readonly #tty: boolean;
  readonly #sync: boolean;
  readonly #plainInterval: number;
  readonly #fps: number;
  readonly #subs: Subscription[] = [];
  #multibar: cliProgress.MultiBar | undefined;
  #statusBar: Bar | undefined;
  #restoreBar: Bar | undefined;
  #syncBar: Bar | undefined;
  #restoreLine: ProgressLine | undefined;
  #syncLine: ProgressLine | undefined;
  #syncBase: number | undefined;
  #syncSamples: Array<[ms: number, version: number]> = [];
  #source: MigrationProgressSource | undefined;
  #statusPrinted = Number.NEGATIVE_INFINITY;
  #stopped = false;

  constructor(options: MigrationProgressOptions) {
    this.#label = options.label;
    this.#enabled = options.enabled;
    this.#stream = options.stream ?? process.stderr;
    this.#tty = this.#stream.isTTY === true;
    this.#sync = options.sync ?? true;
    this.#plainInterval = options.plainIntervalMs ?? 2000;
    this.#fps = options.fps ?? 10;
  }

  /** True when it draws bars (enabled, on a terminal). */
  get bars(): boolean {
    return this.#enabled && this.#tty;
  }

  /** Follows a manager's or a store's progress (and events) until stop(). */
  attach(source: MigrationProgressSource): this {
    this.#source = source;
    this.#subs.push(source.progress$.subscribe((p) => this.update(p)));
    if (source.events$) this.#subs.push(source.events$.subscribe((e) => this.event(e)));
    return this;
  }

  update(p: MigrationProgress): void {
    if (!this.#enabled || this.#stopped) return;
    if (p.phase === 'restoring') this.#restore(p);
    else if (p.phase === 'syncing' || p.phase === 'waiting-switch') {
      this.#finishRestore();
      if (this.#sync) this.#syncing(p);
    }
  }

  /** Events close the bars at the right moment: the restore at 'restored', the sync at 'switched'. */
  event(e: RootStoreEvent): void {
    if (!this.#enabled || this.#stopped) return;
    if (e.type === 'restored') this.#finishRestore();
    else if (e.type === 'switched' && this.#syncBar) {
      this.#syncBar.setTotal(e.version);
      this.#syncBar.update(e.version, { phase: pad('switched'), rate: '-', eta: '0s' });
    }
  }

  /** A line on the terminal that is not progress (what the program is doing): above the bars. */
  setStatus(text: string): void {
    if (!this.#enabled || this.#stopped) return;
    if (this.#tty) {
      if (this.#statusBar) this.#statusBar.update(0, { text });
      else this.#statusBar = this.#bar(1, 0, { phase: '', rate: '', eta: '', text });
      return;
    }
    const now = Date.now();
    if (now - this.#statusPrinted < this.#plainInterval) return;
    this.#statusPrinted = now;
    this.#stream.write(`${this.#label}: ${text}\n`);
  }

  /** Prints a message line without mangling the bars (also when progress is off). */
  log(message: string): void {
    const text = message.endsWith('\n') ? message.slice(0, -1) : message;
    // Over the bars, each line is printed where a bar was: erase what is left of it.
    if (this.#multibar && !this.#stopped) this.#multibar.log(`${ERASE_LINE}${text}${ERASE_RIGHT}\n`);
    else this.#stream.write(`${text}\n`);
  }

  /**
   * Draws the bars a last time and leaves them on screen; call it before printing the result.
   * `last`: the final progress (progress$ is throttled, so its last snapshot may not have come yet).
   */
  stop(last?: MigrationProgress): void {
    if (this.#stopped) return;
    // The last snapshot completes the restore; it does not open a sync bar at the very end.
    if (last !== undefined && last.phase === 'restoring') this.update(last);
    else if (
      last !== undefined &&
      this.#enabled &&
      (last.phase === 'syncing' || last.phase === 'waiting-switch')
    )
      this.#finishRestore();
    this.#stopped = true;
    for (const s of this.#subs.splice(0)) s.unsubscribe();
    this.#restoreLine?.stop();
    this.#syncLine?.stop();
    if (this.#multibar) {
      // Flush logs still waiting for a redraw, then the final frame.
      this.#multibar.update();
      this.#multibar.stop();
    }
  }

  #restore(p: MigrationProgress): void {
    const phase = p.store ? `restore ${p.store}` : 'restore';
    if (this.#tty) {
      const payload = { phase: pad(phase), rate: formatRate(p.rate), eta: formatEta(p.etaSeconds) };
      if (this.#restoreBar === undefined) {
        this.#restoreBar = this.#bar(p.leavesTotal, p.leavesDone, payload);
      } else {
        this.#restoreBar.setTotal(p.leavesTotal);
        this.#restoreBar.update(p.leavesDone, payload);
      }
      return;
    }
    this.#restoreLine ??= new ProgressLine({
      label: this.#label,
      unit: 'leaves',
      enabled: true,
      stream: this.#stream,
      plainIntervalMs: this.#plainInterval,
    });
    this.#restoreLine.update({
      done: p.leavesDone,
      total: p.leavesTotal,
      note: p.store ? `store ${p.store}` : p.phase,
    });
  }

  #finishRestore(): void {
    const bar = this.#restoreBar;
    if (bar && bar.getProgress() < 1) bar.update(bar.getTotal(), { phase: pad('restore'), eta: '0s' });
    else if (bar) bar.update({ phase: pad('restore'), eta: '0s' });
  }

  #syncing(p: MigrationProgress): void {
    this.#syncBase ??= Math.min(p.migratedVersion, p.targetVersion);
    // A store knows its latest version; the tracker's target only moves as versions sync.
    const target = Math.max(p.targetVersion, p.migratedVersion, this.#source?.latestVersion ?? 0);
    // Versions per second, measured here: right after the restore the tracker still reports leaves/s.
    const now = Date.now();
    const samples = this.#syncSamples;
    samples.push([now, p.migratedVersion]);
    while (samples.length > 2 && now - samples[0][0] > SYNC_WINDOW_MS) samples.shift();
    const span = now - samples[0][0];
    const rate = span >= 500 ? ((p.migratedVersion - samples[0][1]) * 1000) / span : undefined;
    const left = target - p.migratedVersion;
    const eta = left === 0 ? 0 : rate !== undefined && rate > 0 ? left / rate : undefined;
    if (this.#tty) {
      const payload = {
        phase: pad('sync versions'),
        rate: rate === undefined ? '-' : formatRate(rate),
        eta: formatEta(eta),
      };
      if (this.#syncBar === undefined) {
        // Progress counts from the version the sync started at; the numbers are heights.
        this.#syncBar = this.#bar(target, this.#syncBase, payload, { progressCalculationRelative: true });
        this.#syncBar.update(p.migratedVersion, payload);
      } else {
        this.#syncBar.setTotal(target);
        this.#syncBar.update(p.migratedVersion, payload);
      }
      return;
    }
    this.#syncLine ??= new ProgressLine({
      label: `${this.#label} sync`,
      unit: 'versions',
      enabled: true,
      stream: this.#stream,
      plainIntervalMs: this.#plainInterval,
    });
    this.#syncLine.update({
      done: p.migratedVersion - this.#syncBase,
      total: target - this.#syncBase,
      note: `version ${p.migratedVersion}/${target}`,
    });
  }

  #bar(total: number, value: number, payload: BarPayload, options: cliProgress.Options = {}): Bar {
    this.#multibar ??= new cliProgress.MultiBar({
      stream: this.#stream,
      format: formatBarLine,
      formatValue: (v, _o, type) =>
        type === 'value' || type === 'total' ? formatCount(Number(v)) : String(v),
      barsize: 30,
      // A bar that did not change is drawn again too: log lines printed above may have covered it.
      forceRedraw: true,
      // No SIGINT/SIGTERM handlers (they would stop Ctrl-C from ending the process), so the
      // cursor stays visible rather than risk leaving it hidden.
      hideCursor: false,
      clearOnComplete: false,
      gracefulExit: false,
      fps: this.#fps,
    });
    return this.#multibar.create(total, value, payload, options);
  }
}

/** cli-progress formatter: BAR_FORMAT with our own phase, rate and ETA (cli-progress's own ETA is not ours). */
export const formatBarLine: cliProgress.GenericFormatter = (options, params, payload: BarPayload) => {
  if (payload.text !== undefined) return payload.text;
  const format = BAR_FORMAT.replace('{phase}', payload.phase)
    .replace('{rate}', payload.rate)
    .replace('{eta}', payload.eta);
  return cliProgress.Format.Formatter({ ...options, format }, params, payload);
};

function pad(phase: string): string {
  return phase.length > PHASE_WIDTH ? `${phase.slice(0, PHASE_WIDTH - 1)}…` : phase.padEnd(PHASE_WIDTH);
}

/** 950, 12.3k, 1.2M */
export function formatRate(r: number): string {
  if (!Number.isFinite(r) || r <= 0) return '0';
  if (r >= 1e6) return `${(r / 1e6).toFixed(1)}M`;
  if (r >= 1e4) return `${(r / 1e3).toFixed(1)}k`;
  return r >= 100 ? r.toFixed(0) : r.toFixed(1);
}

export function formatEta(seconds: number | undefined): string {
  return seconds === undefined || !Number.isFinite(seconds) ? '--' : formatDuration(seconds);
}

/**
 * The command's logger (see commandLogger): with --log-file, to the file; otherwise with
 * --verbose, debug logs (pino JSON lines) through the display, so they print above the bars;
 * otherwise none.
 */
export function displayLogger(opts: GlobalOptions, display: MigrationProgressDisplay): Logger {
  return commandLogger(opts, { write: (line: string) => display.log(line) });
}
