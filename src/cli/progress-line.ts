/**
 * Progress on stderr for long commands. On a terminal: one line redrawn in place (\r) with
 * the count, the rate and an ETA. Elsewhere (a pipe, a log file): a plain line every few
 * seconds. Disabled (--no-progress): nothing at all.
 */

export interface ProgressState {
  /** Units done so far. */
  done: number;
  /** Units in all, when known. */
  total?: number;
  /** Share done in [0, 1] when it is not done/total (e.g. bytes of a file read). */
  fraction?: number;
  /** A short note after the numbers: the phase, the current version. */
  note?: string;
}

export interface ProgressLineOptions {
  /** The command, printed first. */
  label: string;
  /** What `done` counts: "changes", "versions". */
  unit: string;
  enabled: boolean;
  stream?: NodeJS.WriteStream;
  /** Redraw interval on a terminal. Default 100 ms. */
  ttyIntervalMs?: number;
  /** Interval between plain lines elsewhere. Default 2 s. */
  plainIntervalMs?: number;
  now?: () => number;
}

export class ProgressLine {
  readonly #label: string;
  readonly #unit: string;
  readonly #enabled: boolean;
  readonly #stream: NodeJS.WriteStream;
  readonly #tty: boolean;
  readonly #interval: number;
  readonly #now: () => number;
  readonly #start: number;
  #last: number;
  #drawn = false;

  constructor(options: ProgressLineOptions) {
    this.#label = options.label;
    this.#unit = options.unit;
    this.#enabled = options.enabled;
    this.#stream = options.stream ?? process.stderr;
    this.#tty = this.#stream.isTTY === true;
    this.#interval = this.#tty ? (options.ttyIntervalMs ?? 100) : (options.plainIntervalMs ?? 2000);
    this.#now = options.now ?? Date.now;
    this.#start = this.#now();
    // Plain lines start after one interval, so short runs stay quiet.
    this.#last = this.#tty ? -Infinity : this.#start;
  }

  /**
   * Reports progress; draws at most once per interval. `force` (a phase change, such as a
   * long commit starting) redraws a terminal line at once, and prints a plain line when a
   * quarter of the interval has passed, so logs say what a long silence is.
   */
  update(state: ProgressState, force = false): void {
    if (!this.#enabled) return;
    const now = this.#now();
    const gap = force ? (this.#tty ? 0 : this.#interval / 4) : this.#interval;
    if (now - this.#last < gap) return;
    this.#last = now;
    const line = formatProgress(this.#label, this.#unit, state, now - this.#start);
    if (this.#tty) {
      this.#stream.write(`\r${line}\x1b[K`);
      this.#drawn = true;
    } else {
      this.#stream.write(`${line}\n`);
    }
  }

  /** Prints a message line without mangling the progress line. */
  log(message: string): void {
    if (!this.#enabled) return;
    this.#clear();
    this.#stream.write(`${message}\n`);
  }

  /** Removes the terminal line; call it before printing the result. */
  stop(): void {
    this.#clear();
  }

  #clear(): void {
    if (this.#drawn) {
      this.#stream.write('\r\x1b[K');
      this.#drawn = false;
    }
  }
}

/** `generate: 412,345/1,000,000 changes (41%), 85.2k/s, ETA 7s, committing version 1/10` */
export function formatProgress(label: string, unit: string, state: ProgressState, elapsedMs: number): string {
  const parts: string[] = [];
  const count =
    state.total === undefined
      ? `${formatCount(state.done)} ${unit}`
      : `${formatCount(state.done)}/${formatCount(state.total)} ${unit}`;
  const fraction =
    state.fraction ??
    (state.total !== undefined && state.total > 0 ? Math.min(1, state.done / state.total) : undefined);
  parts.push(fraction === undefined ? count : `${count} (${Math.floor(fraction * 100)}%)`);
  const seconds = elapsedMs / 1000;
  if (seconds > 0) parts.push(`${formatRate(state.done / seconds)}/s`);
  if (fraction !== undefined && fraction > 0 && fraction < 1) {
    parts.push(`ETA ${formatDuration((seconds * (1 - fraction)) / fraction)}`);
  }
  if (state.note) parts.push(state.note);
  return `${label}: ${parts.join(', ')}`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

function formatRate(r: number): string {
  if (r >= 1e6) return `${(r / 1e6).toFixed(1)}M`;
  if (r >= 1e4) return `${(r / 1e3).toFixed(1)}k`;
  return r >= 100 ? r.toFixed(0) : r.toFixed(1);
}

export function formatDuration(seconds: number): string {
  if (seconds < 10) return `${Math.max(0, seconds).toFixed(1)}s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
