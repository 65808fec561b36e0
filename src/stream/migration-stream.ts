import { StoreMigrateError } from '../errors.js';

/**
 * A bounded in-memory queue between one writer and one reader, after cosmos store/v2's
 * MigrationStream, with the backpressure and error propagation that one lacks:
 * - writeMsg waits while the queue is full, so memory is bounded by `bufferSize`;
 * - closeWithError(err) reaches the reader as `err` once the buffered items are read,
 *   never as a plain end of stream;
 * - cancelling the reader (cancel(), or leaving a for-await loop) releases a waiting writer
 *   with ERR_STREAM_CLOSED.
 */
export class MigrationStream<T> implements AsyncIterable<T> {
  readonly bufferSize: number;
  #items: T[] = [];
  #head = 0;
  #closed = false;
  #error: unknown;
  #cancelled: StoreMigrateError | undefined;
  #readerWaiting: (() => void) | undefined;
  #writerWaiting: (() => void) | undefined;

  constructor(bufferSize = 1024) {
    if (!Number.isInteger(bufferSize) || bufferSize < 1) {
      throw new StoreMigrateError(
        'ERR_INVALID_PARAMS',
        `buffer size must be a positive integer, not ${bufferSize}`,
      );
    }
    this.bufferSize = bufferSize;
  }

  /** Items waiting to be read. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  get closed(): boolean {
    return this.#closed || this.#cancelled !== undefined;
  }

  #wakeReader(): void {
    const w = this.#readerWaiting;
    this.#readerWaiting = undefined;
    w?.();
  }

  #wakeWriter(): void {
    const w = this.#writerWaiting;
    this.#writerWaiting = undefined;
    w?.();
  }

  /** Queues an item, waiting while the queue is full. */
  async writeMsg(item: T): Promise<void> {
    for (;;) {
      if (this.#cancelled) throw this.#cancelled;
      if (this.#closed)
        throw new StoreMigrateError('ERR_STREAM_CLOSED', 'write to a closed migration stream');
      if (this.size < this.bufferSize) break;
      await new Promise<void>((resolve) => {
        this.#writerWaiting = resolve;
      });
    }
    this.#items.push(item);
    this.#wakeReader();
  }

  /** The next item; undefined at a clean end; throws the writer's error after the buffered items. */
  async readMsg(): Promise<T | undefined> {
    for (;;) {
      if (this.#cancelled) throw this.#cancelled;
      if (this.size > 0) {
        const item = this.#items[this.#head];
        this.#items[this.#head] = undefined as T;
        this.#head++;
        // Compact now and then so the array does not grow without bound.
        if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
          this.#items = this.#items.slice(this.#head);
          this.#head = 0;
        }
        this.#wakeWriter();
        return item;
      }
      if (this.#closed) {
        if (this.#error !== undefined) throw this.#error;
        return undefined;
      }
      await new Promise<void>((resolve) => {
        this.#readerWaiting = resolve;
      });
    }
  }

  /** The writer is done: the reader sees the end after the buffered items. */
  close(): void {
    this.#closed = true;
    this.#wakeReader();
    this.#wakeWriter();
  }

  /** The writer failed: the reader gets `err` after the buffered items. */
  closeWithError(err: unknown): void {
    if (this.#closed) return;
    this.#error = err ?? new StoreMigrateError('ERR_STREAM_TRUNCATED', 'migration stream failed');
    this.close();
  }

  /** The reader gives up: buffered items are dropped and the writer is released with an error. */
  cancel(reason = 'the reader cancelled the migration stream'): void {
    if (this.#cancelled) return;
    this.#cancelled = new StoreMigrateError('ERR_STREAM_CLOSED', reason);
    this.#items = [];
    this.#head = 0;
    this.#wakeWriter();
    this.#wakeReader();
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: async (): Promise<IteratorResult<T>> => {
        const item = await this.readMsg();
        return item === undefined ? { done: true, value: undefined } : { done: false, value: item };
      },
      return: async (): Promise<IteratorResult<T>> => {
        this.cancel();
        return { done: true, value: undefined };
      },
    };
  }
}
