import type { MessagePort } from 'node:worker_threads';
import type { LevelDatabase } from '../db/kv-db.js';
import { toWireError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { V1Reply, V1Request, WireRange } from './v1-wire.js';
import { packBytes, unpackBytes } from './wire.js';

const VIEW = { keyEncoding: 'view', valueEncoding: 'view' } as const;

interface OpenIterator {
  // biome-ignore lint/suspicious/noExplicitAny: abstract-level iterators differ in their type parameters.
  nextv(n: number): Promise<any[]>;
  // biome-ignore lint/suspicious/noExplicitAny: as nextv.
  all(): Promise<any[]>;
  close(): Promise<void>;
}

/**
 * The node thread's side of the migration worker's v1 reads. The node owns v1 (LevelDB opens a
 * directory once per process); the worker asks for batches of keys and iterator chunks, and
 * each answer goes back as one transferred buffer. The reads themselves run on LevelDB's
 * thread pool, so the node thread only unpacks and packs.
 */
export class V1ReadServer {
  readonly #db: LevelDatabase;
  readonly #port: MessagePort;
  readonly #flag: Int32Array;
  readonly #log: Logger;
  readonly #iterators = new Map<number, OpenIterator>();
  #closed = false;

  /**
   * Serves `db` on `port`; `flag` (on a SharedArrayBuffer) wakes a worker blocked in a sync read.
   * @example
   * const server = new V1ReadServer(v1Db, channel.port1, flag, log); // ... server.close()
   */
  constructor(db: LevelDatabase, port: MessagePort, flag: Int32Array, log: Logger) {
    this.#db = db;
    this.#port = port;
    this.#flag = flag;
    this.#log = log;
    port.on('message', (req: V1Request) => {
      this.#serve(req).catch((err: unknown) => this.#log.error({ err }, 'v1 read server failed'));
    });
  }

  async #serve(req: V1Request): Promise<void> {
    let reply: V1Reply;
    const transfer: ArrayBuffer[] = [];
    try {
      reply = await this.#answer(req);
      if (reply.keys) transfer.push(reply.keys);
      if (reply.values) transfer.push(reply.values);
    } catch (err) {
      reply = { id: req.id, error: toWireError(err, 'ERR_DB_IO') };
    }
    if (this.#closed) return;
    this.#port.postMessage(reply, transfer);
    if (req.op === 'get' && req.sync) {
      Atomics.store(this.#flag, 0, 1);
      Atomics.notify(this.#flag, 0);
    }
  }

  async #answer(req: V1Request): Promise<V1Reply> {
    if (req.op === 'get') {
      const keys = unpackBytes(req.keys) as Uint8Array[];
      const values = await this.#db.getMany(keys, VIEW);
      return { id: req.id, values: packBytes(values as Array<Uint8Array | undefined>) };
    }
    if (req.op === 'close') {
      const it = this.#iterators.get(req.it);
      this.#iterators.delete(req.it);
      await it?.close();
      return { id: req.id };
    }
    let it = this.#iterators.get(req.it);
    if (it === undefined) {
      it = this.#open(req.range ?? {}, req.values);
      this.#iterators.set(req.it, it);
    }
    let chunk: unknown[];
    if (req.all) {
      this.#iterators.delete(req.it);
      chunk = await it.all();
    } else {
      chunk = await it.nextv(req.n);
    }
    if (!req.values) return { id: req.id, keys: packBytes(chunk as Uint8Array[]) };
    return {
      id: req.id,
      keys: packBytes((chunk as Array<[Uint8Array, Uint8Array]>).map((e) => e[0])),
      values: packBytes((chunk as Array<[Uint8Array, Uint8Array]>).map((e) => e[1])),
    };
  }

  #open(range: WireRange, values: boolean): OpenIterator {
    const opts = { ...VIEW, ...range };
    return values ? this.#db.iterator(opts) : this.#db.keys(opts);
  }

  /** Iterators the worker has open here (each holds a LevelDB snapshot until closed). */
  get openIterators(): number {
    return this.#iterators.size;
  }

  /** Stops answering and closes the iterators the worker left open. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#port.close();
    const open = [...this.#iterators.values()];
    this.#iterators.clear();
    await Promise.allSettled(open.map((it) => it.close()));
  }
}
