import { describe, expect, it } from 'vitest';
import { type MigrationProgress, ProgressTracker } from '../../src/migration/progress.js';

describe('ProgressTracker', () => {
  it('emits every phase change at once, even inside the throttle window', () => {
    const t = new ProgressTracker();
    const seen: MigrationProgress[] = [];
    t.progress$.subscribe((p) => seen.push(p));
    t.update({ phase: 'idle' });
    t.update({ phase: 'restoring', leavesTotal: 10 });
    t.update({ phase: 'syncing', leavesDone: 10 });
    expect(seen.map((p) => p.phase)).toEqual(['idle', 'restoring', 'syncing']);
    t.complete();
  });

  it('throttles updates within a phase and still delivers the latest one', async () => {
    const t = new ProgressTracker();
    const seen: MigrationProgress[] = [];
    t.progress$.subscribe((p) => seen.push(p));
    t.update({ phase: 'restoring', leavesTotal: 1000 });
    for (let i = 1; i <= 1000; i++) t.update({ leavesDone: i });
    // The first update went out; the other 1000 wait for one trailing emission.
    expect(seen.length).toBe(1);
    await new Promise((r) => setTimeout(r, 400));
    expect(seen.length).toBe(2);
    expect(seen.at(-1)?.leavesDone).toBe(1000);
    expect(seen.at(-1)?.etaSeconds).toBe(0);
    t.complete();
  });

  it('flushes a pending update on complete', () => {
    const t = new ProgressTracker();
    const seen: MigrationProgress[] = [];
    let completed = false;
    t.progress$.subscribe({ next: (p) => seen.push(p), complete: () => (completed = true) });
    t.update({ phase: 'syncing', targetVersion: 9 });
    t.update({ migratedVersion: 9 });
    t.complete();
    expect(completed).toBe(true);
    expect(seen.at(-1)?.migratedVersion).toBe(9);
  });

  it('flushes a held-back update on demand, and only once', () => {
    const t = new ProgressTracker();
    const seen: MigrationProgress[] = [];
    t.progress$.subscribe((p) => seen.push(p));
    t.update({ phase: 'syncing', targetVersion: 9 });
    t.update({ migratedVersion: 4 });
    expect(seen.at(-1)?.migratedVersion).toBe(0);
    t.flush();
    expect(seen.at(-1)?.migratedVersion).toBe(4);
    const count = seen.length;
    t.flush();
    expect(seen.length).toBe(count);
    t.complete();
  });

  it('keeps a failed migration failed until a new one starts', () => {
    const t = new ProgressTracker();
    t.update({ phase: 'failed' });
    t.update({ phase: 'syncing' });
    expect(t.current.phase).toBe('failed');
    t.complete();
  });
});
