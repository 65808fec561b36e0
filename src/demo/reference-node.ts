import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { LevelDatabase } from '../db/kv-db.js';
import { openDb } from '../db/open-db.js';
import type { Changeset } from '../encoding/changeset.js';
import { StoreMigrateError } from '../errors.js';
import { type Logger, silentLogger } from '../logger.js';
import { MultiStoreV1 } from '../v1/multi-store-v1.js';

/** What the reference worker is asked to do, and what it answers. */
export type ReferenceRequest =
  | { id: number; op: 'open'; path: string }
  | { id: number; op: 'commit'; version: number; changeset: Changeset }
  | { id: number; op: 'appHashes'; from: number; to: number }
  | { id: number; op: 'close' };

export type ReferenceResponse =
  | { id: number; ok: true; appHash?: Uint8Array; appHashes?: Uint8Array[]; warning?: string }
  | { id: number; ok: false; code?: string; message: string };

/** The reference v1 itself: a plain MultiStoreV1 that commits what it is given. */
export class ReferenceStore {
  readonly #db: LevelDatabase;
  readonly #ms: MultiStoreV1;

  private constructor(db: LevelDatabase, ms: MultiStoreV1) {
    this.#db = db;
    this.#ms = ms;
  }

  static async open(path: string): Promise<ReferenceStore> {
    const db = await openDb(path, { createIfMissing: false });
    try {
      return new ReferenceStore(db, await MultiStoreV1.open(db));
    } catch (err) {
      // The open error is the one to report; a failing close must not hide it.
      await db.close().catch(() => {});
      throw err;
    }
  }

  async commit(version: number, changeset: Changeset): Promise<Uint8Array> {
    return (await this.#ms.commit(changeset, version)).appHash;
  }

  async appHashes(from: number, to: number): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    for (let h = from; h <= to; h++) out.push((await this.#ms.getCommitInfo(h)).appHash);
    return out;
  }

  close(): Promise<void> {
    return this.#db.close();
  }
}

/** Answers one request against the store the worker holds (or opens it). */
export async function handleReferenceRequest(
  state: { store?: ReferenceStore },
  req: ReferenceRequest,
): Promise<ReferenceResponse> {
  try {
    switch (req.op) {
      case 'open':
        state.store = await ReferenceStore.open(req.path);
        return { id: req.id, ok: true };
      case 'commit':
        return { id: req.id, ok: true, appHash: await opened(state).commit(req.version, req.changeset) };
      case 'appHashes':
        return { id: req.id, ok: true, appHashes: await opened(state).appHashes(req.from, req.to) };
      case 'close':
        await state.store?.close();
        state.store = undefined;
        return { id: req.id, ok: true };
    }
  } catch (err) {
    const code = err instanceof StoreMigrateError ? err.code : undefined;
    return { id: req.id, ok: false, code, message: err instanceof Error ? err.message : String(err) };
  }
}

function opened(state: { store?: ReferenceStore }): ReferenceStore {
  if (state.store === undefined) throw new StoreMigrateError('ERR_DB_OPEN', 'the reference is not open');
  return state.store;
}

const WORKER_URL = new URL('./reference-worker.js', import.meta.url);

/**
 * The reference's worker runs at the lowest priority: it only checks, and its blocks may lag
 * (their hashes are compared as they come and at the end), so it takes only the CPU that the
 * node and its migration leave and does not count in the latencies the demo reports.
 */
const REFERENCE_NICE = 19;

/**
 * The reference node of the demo: a copy of v1 that commits the same blocks without any
 * migration, for the app hashes to compare with. It runs in a worker thread when the
 * compiled worker is there (the node under test keeps its own thread), in this thread
 * otherwise (tests run the TypeScript sources). Requests are answered in order.
 */
export class ReferenceNode {
  readonly #worker: Worker | undefined;
  readonly #state: { store?: ReferenceStore } = {};
  readonly #pending = new Map<number, (r: ReferenceResponse) => void>();
  #chain: Promise<unknown> = Promise.resolve();
  #nextId = 1;
  #exitError: Error | undefined;

  private constructor(worker: Worker | undefined) {
    this.#worker = worker;
    if (worker) {
      worker.on('message', (r: ReferenceResponse) => {
        const resolve = this.#pending.get(r.id);
        this.#pending.delete(r.id);
        resolve?.(r);
      });
      const fail = (err: Error) => {
        this.#exitError = err;
        for (const [id, resolve] of this.#pending) resolve({ id, ok: false, message: err.message });
        this.#pending.clear();
      };
      worker.on('error', fail);
      worker.on('exit', (code) => fail(new Error(`the reference worker exited (code ${code})`)));
    }
  }

  /**
   * Opens the reference v1 at `path`; `worker: false` keeps it in this thread.
   * @example
   * const ref = await ReferenceNode.open(join(home, 'reference.db'), { logger });
   * const theirs = await ref.commit(ci.version, changeset);
   */
  static async open(
    path: string,
    options: { worker?: boolean; logger?: Logger } = {},
  ): Promise<ReferenceNode> {
    const useWorker = options.worker ?? existsSync(fileURLToPath(WORKER_URL));
    const worker = useWorker ? new Worker(WORKER_URL, { workerData: { nice: REFERENCE_NICE } }) : undefined;
    const node = new ReferenceNode(worker);
    try {
      const opened = await node.#request({ op: 'open', path });
      if (opened.warning !== undefined) {
        (options.logger ?? silentLogger).warn(
          { reason: opened.warning },
          'could not lower the reference thread priority: it competes with the node for the CPU',
        );
      }
    } catch (err) {
      await node.#worker?.terminate();
      throw err;
    }
    return node;
  }

  /** True when the reference runs in its own thread. */
  get inWorker(): boolean {
    return this.#worker !== undefined;
  }

  /** Commits a block; resolves with the reference's app hash at that version. */
  async commit(version: number, changeset: Changeset): Promise<Uint8Array> {
    return (await this.#request({ op: 'commit', version, changeset })).appHash!;
  }

  /** The app hashes of heights from..to. */
  async appHashes(from: number, to: number): Promise<Uint8Array[]> {
    return (await this.#request({ op: 'appHashes', from, to })).appHashes!;
  }

  async close(): Promise<void> {
    // A worker that already failed has nothing to close; it is terminated next either way.
    await this.#request({ op: 'close' }).catch(() => {});
    await this.#worker?.terminate();
  }

  async #request(
    req: ReferenceRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never,
  ): Promise<Extract<ReferenceResponse, { ok: true }>> {
    const full = { ...req, id: this.#nextId++ } as ReferenceRequest;
    let res: ReferenceResponse;
    if (this.#worker) {
      if (this.#exitError) throw this.#exitError;
      res = await new Promise<ReferenceResponse>((resolve) => {
        this.#pending.set(full.id, resolve);
        this.#worker!.postMessage(full);
      });
    } else {
      // In this thread: one request at a time, in order, as the worker would.
      const p = this.#chain.then(() => handleReferenceRequest(this.#state, full));
      // The caller gets p's rejection; the chain only orders the next request after this one.
      this.#chain = p.catch(() => {});
      res = await p;
    }
    if (!res.ok) {
      throw new StoreMigrateError(
        'ERR_DB_IO',
        `reference v1: ${res.code ? `${res.code}: ` : ''}${res.message}`,
      );
    }
    return res;
  }
}
