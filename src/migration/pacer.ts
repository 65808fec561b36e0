/**
 * Pause, resume and a leaves-per-second ceiling for the bulk loops. The loops call step()
 * every few leaves; it returns at once unless the migration is paused or ahead of its rate.
 */
export class Pacer {
  #rate: number | undefined;
  #paused = false;
  #resumeWaiters: Array<() => void> = [];
  #windowStart = 0;
  #windowLeaves = 0;

  readonly #signal: AbortSignal | undefined;

  /** `signal` ends a pause: the waiting loop gets its reason (a migration stopped while paused). */
  constructor(leavesPerSecond?: number, signal?: AbortSignal) {
    this.setRate(leavesPerSecond);
    this.#signal = signal;
    signal?.addEventListener('abort', () => this.#wake(), { once: true });
  }

  #wake(): void {
    for (const w of this.#resumeWaiters.splice(0)) w();
  }

  get paused(): boolean {
    return this.#paused;
  }

  get rate(): number | undefined {
    return this.#rate;
  }

  setRate(leavesPerSecond: number | undefined): void {
    this.#rate = leavesPerSecond !== undefined && leavesPerSecond > 0 ? leavesPerSecond : undefined;
    this.#windowStart = 0;
    this.#windowLeaves = 0;
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#wake();
    // The pause does not count against the rate.
    this.#windowStart = 0;
    this.#windowLeaves = 0;
  }

  /** Waits while paused; rejects with the signal's reason once it aborts. */
  async gate(): Promise<void> {
    while (this.#paused) {
      this.#signal?.throwIfAborted();
      await new Promise<void>((r) => this.#resumeWaiters.push(r));
    }
  }

  /** Accounts for `leaves` more leaves, then waits as long as the pause and the rate require. */
  async step(leaves: number): Promise<void> {
    await this.gate();
    if (this.#rate === undefined) return;
    const now = performance.now();
    if (this.#windowStart === 0) this.#windowStart = now;
    this.#windowLeaves += leaves;
    const due = this.#windowStart + (this.#windowLeaves / this.#rate) * 1000;
    if (due > now) await new Promise((r) => setTimeout(r, due - now));
  }
}
