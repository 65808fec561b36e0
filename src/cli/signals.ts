import type { Logger } from '../logger.js';

/** The exit code of a job a signal stopped before it finished: 128 + the signal number. */
export function signalExitCode(signal: NodeJS.Signals): number {
  return signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : 1;
}

/**
 * Listens for SIGINT and SIGTERM from the start, so a signal during startup still ends in a
 * clean close. `signal` resolves on the first one; after it, until `release()`, a second one
 * (an operator whose shutdown seems stuck) exits at once.
 */
export function catchSignals(logger: Logger): { signal: Promise<NodeJS.Signals>; release: () => void } {
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
  const again = (s: NodeJS.Signals) => {
    logger.warn({ signal: s }, 'second signal while shutting down: exiting now');
    process.stderr.write(`second ${s}: exiting now\n`);
    process.exit(signalExitCode(s));
  };
  let first: (s: NodeJS.Signals) => void = () => {};
  const signal = new Promise<NodeJS.Signals>((resolve) => {
    first = (received) => {
      for (const s of signals) {
        process.removeListener(s, first);
        process.on(s, again);
      }
      resolve(received);
    };
  });
  for (const s of signals) process.on(s, first);
  const release = () => {
    for (const s of signals) {
      process.removeListener(s, first);
      process.removeListener(s, again);
    }
  };
  return { signal, release };
}
