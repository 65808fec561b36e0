import { describe, expect, it } from 'vitest';
import { Pacer } from '../../src/migration/pacer.js';

describe('Pacer', () => {
  it('waits in gate() while the database has no headroom, and counts the wait', async () => {
    let room = false;
    const pacer = new Pacer(undefined, () => room);
    const t0 = performance.now();
    setTimeout(() => {
      room = true;
    }, 80);
    await pacer.gate();
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(70);
    expect(pacer.headroomWaitMs).toBeGreaterThanOrEqual(70);
    // With room, nothing waits.
    const t1 = performance.now();
    await pacer.step(64);
    expect(performance.now() - t1).toBeLessThan(50);
  });

  it('gives up waiting after a bound, so a database that never compacts slows the migration but does not stop it', async () => {
    const pacer = new Pacer(undefined, () => false);
    const t0 = performance.now();
    await pacer.gate();
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(900);
    expect(waited).toBeLessThan(5000);
  });

  it('a pause still holds the gate until resume', async () => {
    const pacer = new Pacer(undefined, () => true);
    pacer.pause();
    let passed = false;
    const p = pacer.gate().then(() => {
      passed = true;
    });
    await new Promise((r) => setTimeout(r, 30));
    expect(passed).toBe(false);
    pacer.resume();
    await p;
    expect(passed).toBe(true);
  });
});
