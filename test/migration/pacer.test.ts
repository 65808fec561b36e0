import { describe, expect, it } from 'vitest';
import { StoreMigrateError } from '../../src/errors.js';
import { Pacer } from '../../src/migration/pacer.js';

/** Whether `p` settles within a few event-loop turns. */
async function settles(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  return done;
}

describe('Pacer', () => {
  it('gate waits while paused and returns once resumed', async () => {
    const pacer = new Pacer();
    pacer.pause();
    const gate = pacer.gate();
    expect(await settles(gate)).toBe(false);
    pacer.resume();
    expect(await settles(gate)).toBe(true);
  });

  it('a stop while paused ends the wait with the stop reason, and a later gate does too', async () => {
    const stop = new AbortController();
    const pacer = new Pacer(undefined, stop.signal);
    pacer.pause();
    const gate = pacer.gate();
    const step = pacer.step(64);
    expect(await settles(gate)).toBe(false);
    const reason = new StoreMigrateError('ERR_STREAM_CLOSED', 'migration stopped');
    stop.abort(reason);
    await expect(gate).rejects.toBe(reason);
    await expect(step).rejects.toBe(reason);
    await expect(pacer.gate()).rejects.toBe(reason);
    expect(pacer.paused).toBe(true);
  });

  it('a stop does not matter while not paused', async () => {
    const stop = new AbortController();
    const pacer = new Pacer(undefined, stop.signal);
    stop.abort(new Error('stopped'));
    await expect(pacer.gate()).resolves.toBeUndefined();
  });
});
