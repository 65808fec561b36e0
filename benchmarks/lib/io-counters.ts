import type { LevelDatabase } from '../../src/db/kv-db.js';

/** Calls into LevelDB, counted at the abstract-level API (one counter set per benchmark). */
export interface IoCounts {
  /** Synchronous point reads (the IAVL node db's reads). */
  getSync: number;
  /** Asynchronous point reads (mpt's reads). */
  get: number;
  /** Batches written (array or chained), and the operations in them. */
  batches: number;
  batchOps: number;
  /** Bytes of keys plus values put through batches. */
  batchBytes: number;
  /** Milliseconds inside synchronous point reads. */
  getSyncMs: number;
  /** Milliseconds from each batch call until its write completed (queueing and write stalls included). */
  batchMs: number;
}

export function zeroCounts(): IoCounts {
  return { getSync: 0, get: 0, batches: 0, batchOps: 0, batchBytes: 0, getSyncMs: 0, batchMs: 0 };
}

export function diffCounts(after: IoCounts, before: IoCounts): IoCounts {
  return {
    getSync: after.getSync - before.getSync,
    get: after.get - before.get,
    batches: after.batches - before.batches,
    batchOps: after.batchOps - before.batchOps,
    batchBytes: after.batchBytes - before.batchBytes,
    getSyncMs: after.getSyncMs - before.getSyncMs,
    batchMs: after.batchMs - before.batchMs,
  };
}

type Op = { type: string; key: Uint8Array; value?: Uint8Array };

/**
 * Wraps one database instance's private `_getSync`, `_get`, `_batch` and `_chainedBatch` (the
 * abstract-level methods that every public call, and any caller that goes straight to the
 * private API, ends in) so that they count into `counts`. The wrappers only count, time and forward their
 * arguments unchanged: a counter increment and a clock read per call, next to microseconds of
 * LevelDB work.
 */
export function countIo(db: LevelDatabase, counts: IoCounts): LevelDatabase {
  const target = db as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of ['_getSync', '_get', '_batch']) {
    if (typeof target[name] !== 'function') {
      throw new Error(`countIo: the database has no ${name}(); it is not an abstract-level database`);
    }
  }
  const getSync = target._getSync.bind(db);
  const get = target._get.bind(db);
  const batch = target._batch.bind(db);
  const chained = typeof target._chainedBatch === 'function' ? target._chainedBatch.bind(db) : undefined;
  target._getSync = (...args) => {
    counts.getSync++;
    const t = performance.now();
    try {
      return getSync(...args);
    } finally {
      counts.getSyncMs += performance.now() - t;
    }
  };
  target._get = (...args) => {
    counts.get++;
    return get(...args);
  };
  target._batch = (...args) => {
    const ops = args[0] as Op[];
    counts.batches++;
    counts.batchOps += ops.length;
    for (const op of ops) counts.batchBytes += op.key.length + (op.value?.length ?? 0);
    const t = performance.now();
    const done = () => {
      counts.batchMs += performance.now() - t;
    };
    const r = batch(...args);
    if (r instanceof Promise) r.then(done, done);
    else done();
    return r;
  };
  if (chained) {
    target._chainedBatch = (...args) => {
      const b = chained(...args) as Record<string, (...a: unknown[]) => unknown>;
      const put = b._put.bind(b);
      const del = b._del.bind(b);
      const write = b._write.bind(b);
      let ops = 0;
      b._put = (key, value) => {
        ops++;
        counts.batchBytes += (key as Uint8Array).length + (value as Uint8Array).length;
        return put(key, value);
      };
      b._del = (key) => {
        ops++;
        counts.batchBytes += (key as Uint8Array).length;
        return del(key);
      };
      // A written batch is cleared and reused (WriteBatch pools them), so count per write.
      const clear = b._clear.bind(b);
      b._clear = () => {
        ops = 0;
        return clear();
      };
      b._write = async (...w) => {
        counts.batches++;
        counts.batchOps += ops;
        ops = 0;
        const t = performance.now();
        try {
          return await write(...w);
        } finally {
          counts.batchMs += performance.now() - t;
        }
      };
      return b;
    };
  }
  return db;
}
