import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { Subject } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  BAR_FORMAT,
  displayLogger,
  formatBarLine,
  formatEta,
  formatRate,
  MigrationProgressDisplay,
} from '../../src/cli/migration-progress.js';
import { IDLE_PROGRESS, type MigrationProgress } from '../../src/migration/progress.js';
import type { RootStoreEvent } from '../../src/v2/root/root-store.js';

/** A stream that records what is written; `isTTY: true` makes it look like a terminal to cli-progress. */
function fakeStream(tty: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  let out = '';
  const w = new Writable({
    write(chunk, _enc, cb) {
      out += String(chunk);
      cb();
    },
  }) as Writable & { isTTY?: boolean; columns?: number };
  w.isTTY = tty;
  w.columns = 120;
  return { stream: w as unknown as NodeJS.WriteStream, text: () => out };
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escapes are what we strip
const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]/g, '');

function progress(patch: Partial<MigrationProgress>): MigrationProgress {
  return { ...IDLE_PROGRESS, phase: 'restoring', ...patch };
}

/** The bar line of one phase, e.g. `restore bank |=====-----| 50% 1,000/2,000 12.3k/s ETA 5.0s`. */
const BAR_LINE =
  /(restore|sync versions|switched)[^|\n]*\|[=-]+\| \d+% [\d,]+\/[\d,]+ ([\d.]+[kM]?|-)\/s ETA ([\d.]+s|\d+m\d+s|--)/;

describe('migration progress display', () => {
  // cli-progress redraws on a timer (10 fps): fake time moves it.
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  const redraw = () => vi.advanceTimersByTime(150);

  it('formats a bar line with our own phase, rate and ETA', () => {
    expect(BAR_FORMAT).toBe('{phase} |{bar}| {percentage}% {value}/{total} {rate}/s ETA {eta}');
    const line = formatBarLine(
      {
        format: BAR_FORMAT,
        barsize: 10,
        barCompleteString: '='.repeat(11),
        barIncompleteString: '-'.repeat(11),
        barGlue: '',
        autopaddingChar: '',
        formatValue: (v: unknown) => String(v),
      },
      {
        progress: 0.5,
        eta: 999,
        startTime: Date.now(),
        stopTime: null,
        total: 2000,
        value: 1000,
        maxWidth: 120,
      },
      { phase: 'restore bank', rate: '12.3k', eta: '5.0s' },
    );
    expect(line).toBe('restore bank |=====-----| 50% 1000/2000 12.3k/s ETA 5.0s');
    expect(formatRate(950)).toBe('950');
    expect(formatRate(12_345)).toBe('12.3k');
    expect(formatRate(2_500_000)).toBe('2.5M');
    expect(formatRate(0)).toBe('0');
    expect(formatEta(undefined)).toBe('--');
    expect(formatEta(65)).toBe('1m05s');
  });

  it('draws a restore bar with rate and ETA on a terminal, and logs above it', () => {
    const { stream, text } = fakeStream(true);
    const display = new MigrationProgressDisplay({ label: 'migrate', enabled: true, stream });
    expect(display.bars).toBe(true);
    const progress$ = new Subject<MigrationProgress>();
    display.attach({ progress$ });
    progress$.next(
      progress({ store: 'bank', leavesDone: 1000, leavesTotal: 4000, rate: 12_345, etaSeconds: 0.243 }),
    );
    redraw();
    expect(stripAnsi(text())).toMatch(/restore bank +\|=+-+\| 25% 1,000\/4,000 12\.3k\/s ETA 0\.2s/);
    display.log('a message');
    progress$.next(
      progress({ store: 'bank', leavesDone: 2500, leavesTotal: 4000, rate: 12_345, etaSeconds: 0.12 }),
    );
    redraw();
    display.stop(progress({ phase: 'syncing', leavesDone: 4000, leavesTotal: 4000 }));
    const out = stripAnsi(text());
    expect(out).toMatch(/restore bank +\|=+-+\| 62% 2,500\/4,000 12\.3k\/s ETA 0\.1s/);
    // The final frame: the restore is complete.
    expect(out).toMatch(/restore +\|=+\| 100% 4,000\/4,000 12\.3k\/s ETA 0s/);
    expect(out).toContain('a message\n');
    expect(out.indexOf('a message')).toBeGreaterThan(out.indexOf('25%'));
    expect(out.indexOf('a message')).toBeLessThan(out.indexOf('62%'));
    expect(out).not.toContain('sync versions');
    // Progress after stop is ignored.
    const len = text().length;
    progress$.next(progress({ store: 'acc', leavesDone: 1, leavesTotal: 2 }));
    expect(text().length).toBe(len);
  });

  it("follows a RootStore's sync against its latest version, and closes the bar at the switch", () => {
    const { stream, text } = fakeStream(true);
    const display = new MigrationProgressDisplay({ label: 'demo', enabled: true, stream });
    const progress$ = new Subject<MigrationProgress>();
    const events$ = new Subject<RootStoreEvent>();
    const store = { progress$, events$, latestVersion: 40 };
    display.attach(store);
    display.setStatus('block 40 (v1, migrating)');
    progress$.next(progress({ store: 'acc', leavesDone: 10, leavesTotal: 10, targetVersion: 20 }));
    events$.next({ type: 'restored', version: 20 });
    progress$.next(
      progress({ phase: 'syncing', migratedVersion: 20, targetVersion: 20, leavesDone: 10, leavesTotal: 10 }),
    );
    redraw();
    vi.advanceTimersByTime(850);
    progress$.next(
      progress({ phase: 'syncing', migratedVersion: 30, targetVersion: 31, leavesDone: 10, leavesTotal: 10 }),
    );
    redraw();
    store.latestVersion = 45;
    events$.next({ type: 'switched', version: 45 });
    display.stop();
    const out = stripAnsi(text());
    // Heights against the store's latest; 10 of the 20 versions since the sync started, in 1 s.
    expect(out).toMatch(/sync versions +\|={15}-{15}\| 50% 30\/40 10\.0\/s ETA 1\.0s/);
    expect(out).toMatch(/switched +\|=+\| 100% 45\/45 -\/s ETA 0s/);
    expect(out).toContain('block 40 (v1, migrating)');
    expect(out).toMatch(BAR_LINE);
  });

  it('prints plain lines when the stream is not a terminal, and nothing when disabled', () => {
    const plain = fakeStream(false);
    const display = new MigrationProgressDisplay({
      label: 'migrate',
      enabled: true,
      stream: plain.stream,
      plainIntervalMs: 0,
    });
    expect(display.bars).toBe(false);
    display.update(progress({ store: 'bank', leavesDone: 1000, leavesTotal: 4000 }));
    display.setStatus('block 12');
    display.log('hello');
    display.stop();
    expect(plain.text()).toMatch(/^migrate: 1,000\/4,000 leaves \(25%\), .*store bank\n/);
    expect(plain.text()).toContain('migrate: block 12\n');
    expect(plain.text()).toContain('hello\n');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: no escapes off a terminal
    expect(plain.text()).not.toMatch(/\x1b/);

    for (const tty of [true, false]) {
      const off = fakeStream(tty);
      const quiet = new MigrationProgressDisplay({
        label: 'migrate',
        enabled: false,
        stream: off.stream,
        plainIntervalMs: 0,
      });
      quiet.update(progress({ store: 'bank', leavesDone: 1000, leavesTotal: 4000 }));
      quiet.setStatus('block 12');
      quiet.log('still said');
      quiet.stop();
      expect(off.text()).toBe('still said\n');
    }
  });

  it('routes --verbose logs through the display', () => {
    const { stream, text } = fakeStream(false);
    const display = new MigrationProgressDisplay({ label: 'migrate', enabled: true, stream });
    displayLogger({ verbose: true }, display).info({ version: 3 }, 'restore starting');
    displayLogger({ verbose: false }, display).info('dropped');
    const lines = text().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toMatchObject({ level: 30, version: 3, msg: 'restore starting' });
  });

  it('a real terminal capture of `migrate` shows the bar with its rate and ETA', () => {
    // Captured with tmux (120x20) from `migrate` on 500k keys; see the fixture's name.
    const capture = readFileSync(
      new URL('../fixtures/progress/migrate-tty-capture.txt', import.meta.url),
      'utf8',
    );
    const line = capture.split('\n').find((l) => BAR_LINE.test(l));
    expect(line, capture).toBeDefined();
    const m = /\| (\d+)% ([\d,]+)\/([\d,]+) ([\d.]+k?)\/s ETA (\S+)/.exec(line!)!;
    expect(Number(m[1])).toBeGreaterThan(0);
    expect(Number(m[1])).toBeLessThan(100);
    expect(m[3]).toBe('500,000');
    expect(m[4]).not.toBe('0');
    expect(m[5]).not.toBe('--');
  });
});
