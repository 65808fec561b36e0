import { setPriority } from 'node:os';

/**
 * Lowers the calling thread's CPU priority to `nice` (0 to 19), so that where it competes with
 * the node's thread for a core the node comes first. Only on Linux, where a thread has a
 * priority of its own (setpriority of "0" is the calling thread); elsewhere it would be the
 * whole process, so nothing is done. Returns why it could not, or undefined.
 * @example
 * const err = lowerThreadPriority(10);
 * if (err) log.warn({ err }, 'could not lower this thread priority');
 */
export function lowerThreadPriority(nice: number): Error | undefined {
  if (process.platform !== 'linux' || nice === 0) return undefined;
  try {
    setPriority(nice);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}
