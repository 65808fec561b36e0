/** Polls `cond` every few milliseconds until it holds; rejects after `ms` naming `what`. */
export function waitFor(cond: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (cond()) resolve();
      else if (Date.now() - t0 > ms) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(tick, 3);
    };
    tick();
  });
}
