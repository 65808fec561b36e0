import { type MessagePort, receiveMessageOnPort } from 'node:worker_threads';
import { fromWireError, StoreMigrateError } from '../errors.js';
import type { V1Reply, V1Request, WireRange } from './v1-wire.js';
import { packBytes, unpackBytes } from './wire.js';

/** How long a sync read waits for the node thread before it gives up. */
const SYNC_TIMEOUT_MS = 120_000;

type Pending = (reply: V1Reply) => void;
type IteratorCall =
  | { op: 'next'; it: number; range?: WireRange; values: boolean; n: number; all?: boolean }
  | { op: 'close'; it: number };

/**
 * The migration worker's read-only view of v1, which the node thread owns (V1ReadServer). It
 * has the subset of abstract-level that KvDb uses: get, getMany, getSync and iterators with
 * nextv. getSync blocks the worker (never the node) until the node thread answers: the tree
 * readers need it, and the export reads ahead with getMany, so few reads take this path.
 */
export class RemoteLevel {
  readonly supports = { getSync: true };
  readonly status = 'open';
  readonly #port: MessagePort;
  readonly #flag: Int32Array;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #nextIterator = 1;

  /**
   * @example
   * const v1 = await MultiStoreV1.open(new RemoteLevel(port, flag) as unknown as LevelDatabase, { readOnly: true });
   */
  constructor(port: MessagePort, flag: Int32Array) {
    this.#port = port;
    this.#flag = flag;
    port.on('message', (reply: V1Reply) => this.#settle(reply));
  }

  #settle(reply: V1Reply): void {
    const p = this.#pending.get(reply.id);
    if (p === undefined) return; // a sync read already took it
    this.#pending.delete(reply.id);
    p(reply);
  }

  #request(req: V1Request, transfer: ArrayBuffer[]): Promise<V1Reply> {
    return new Promise((resolve) => {
      this.#pending.set(req.id, resolve);
      this.#port.postMessage(req, transfer);
    });
  }

  async getMany(keys: Uint8Array[], _opts?: unknown): Promise<Array<Uint8Array | undefined>> {
    const packed = packBytes(keys);
    const reply = await this.#request({ id: this.#nextId++, op: 'get', keys: packed, sync: false }, [packed]);
    return unpackValues(reply);
  }

  async get(key: Uint8Array, _opts?: unknown): Promise<Uint8Array | undefined> {
    return (await this.getMany([key]))[0];
  }

  getSync(key: Uint8Array, _opts?: unknown): Uint8Array | undefined {
    const id = this.#nextId++;
    const packed = packBytes([key]);
    Atomics.store(this.#flag, 0, 0);
    this.#port.postMessage({ id, op: 'get', keys: packed, sync: true } satisfies V1Request, [packed]);
    for (;;) {
      if (Atomics.wait(this.#flag, 0, 0, SYNC_TIMEOUT_MS) === 'timed-out') {
        throw new StoreMigrateError(
          'ERR_DB_IO',
          `v1 read: the node thread did not answer in ${SYNC_TIMEOUT_MS} ms`,
        );
      }
      // Replies to earlier async reads may come first: settle them, then find ours.
      for (let m = receiveMessageOnPort(this.#port); m !== undefined; m = receiveMessageOnPort(this.#port)) {
        const reply = m.message as V1Reply;
        if (reply.id === id) return unpackValues(reply)[0];
        this.#settle(reply);
      }
      Atomics.store(this.#flag, 0, 0);
    }
  }

  iterator(range: WireRange): RemoteIterator {
    return new RemoteIterator(this, this.#nextIterator++, range, true);
  }

  keys(range: WireRange): RemoteIterator {
    return new RemoteIterator(this, this.#nextIterator++, range, false);
  }

  /** @internal One call of an iterator (RemoteIterator). */
  async call(req: IteratorCall): Promise<V1Reply> {
    const reply = await this.#request({ ...req, id: this.#nextId++ }, []);
    if (reply.error) throw fromWireError(reply.error);
    return reply;
  }

  batch(): never {
    throw new StoreMigrateError('ERR_READ_ONLY', 'v1 is read-only on the migration worker');
  }

  put(): never {
    return this.batch();
  }

  del(): never {
    return this.batch();
  }
}

function unpackValues(reply: V1Reply): Array<Uint8Array | undefined> {
  if (reply.error) throw fromWireError(reply.error);
  return unpackBytes(reply.values!);
}

/** A v1 iterator on the node thread, read in chunks. */
class RemoteIterator {
  readonly #db: RemoteLevel;
  readonly #it: number;
  #range: WireRange | undefined;
  readonly #values: boolean;
  #closed = false;

  constructor(db: RemoteLevel, it: number, range: WireRange, values: boolean) {
    this.#db = db;
    this.#it = it;
    this.#range = range;
    this.#values = values;
  }

  // biome-ignore lint/suspicious/noExplicitAny: entries or keys, as abstract-level's nextv.
  nextv(n: number): Promise<any[]> {
    return this.#next(n, false);
  }

  /** Every entry left, in one round trip; the node thread closes the iterator. */
  // biome-ignore lint/suspicious/noExplicitAny: as nextv.
  all(): Promise<any[]> {
    this.#closed = true;
    return this.#next(0, true);
  }

  // biome-ignore lint/suspicious/noExplicitAny: as nextv.
  async #next(n: number, all: boolean): Promise<any[]> {
    const range = this.#range;
    this.#range = undefined;
    const reply = await this.#db.call({ op: 'next', it: this.#it, range, values: this.#values, n, all });
    const keys = unpackBytes(reply.keys!) as Uint8Array[];
    if (!this.#values) return keys;
    const values = unpackBytes(reply.values!);
    return keys.map((k, i) => [k, values[i]]);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#db.call({ op: 'close', it: this.#it });
  }
}
