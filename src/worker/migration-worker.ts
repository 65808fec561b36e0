import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { Subject } from 'rxjs';
import { KvDb, type LevelDatabase } from '../db/kv-db.js';
import { openDb, V2_MAX_FILE_SIZE } from '../db/open-db.js';
import { decodeChangeset, type VersionedChangeset } from '../encoding/changeset.js';
import { toWireError } from '../errors.js';
import type { Logger } from '../logger.js';
import { handoffSpillPath } from '../migration/handoff-spill.js';
import type { MigrationManager } from '../migration/migration-manager.js';
import { MultiStoreV1 } from '../v1/multi-store-v1.js';
import { openV2Home } from '../v2/home/open-v2-home.js';
import { RemoteLevel } from './remote-level.js';
import { lowerThreadPriority } from './thread-priority.js';
import { unpackBytes } from './wire.js';
import { type FromWorker, type MigrationWorkerData, type ToWorker, workerState } from './worker-messages.js';

/**
 * The migration worker (MigrationThread starts it): it owns v2 until the switch and runs the
 * restore and the sync there, reading v1 from the node thread. Its messages are in
 * worker-messages.ts.
 */
const port = parentPort as MessagePort;
const data = workerData as MigrationWorkerData;

function post(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(msg, transfer);
}

/** A pino logger whose lines go to the node thread's logger. */
function workerLogger(level: string): Logger {
  const stream = { write: (line: string) => post({ t: 'log', line }) };
  return pino({ level, base: undefined }, stream);
}

/** One message of the node thread's (worker-messages.ts), for the migration under way. */
function onMessage(
  msg: ToWorker,
  manager: MigrationManager,
  changesets: Subject<VersionedChangeset>,
  done: Subject<void>,
): void {
  switch (msg.t) {
    case 'changeset': {
      const version = msg.version;
      changesets.next({ version, changeset: decodeChangeset(new Uint8Array(msg.bytes)) });
      // In v2's buffer now (with a journal on the node thread, it was durable there already).
      manager.persisted(version).then(
        () => post({ t: 'persisted', version, state: workerState(manager) }),
        (err: unknown) => post({ t: 'persist-failed', version, error: toWireError(err) }),
      );
      return;
    }
    case 'confirm':
      manager.confirm(
        msg.version,
        msg.keys && msg.values
          ? {
              keys: unpackBytes(msg.keys) as Uint8Array[],
              values: unpackBytes(msg.values) as Uint8Array[],
            }
          : undefined,
      );
      return;
    case 'discard':
      manager.discard(msg.version).then(
        () => post({ t: 'discarded', id: msg.id }),
        (err: unknown) => post({ t: 'discarded', id: msg.id, error: toWireError(err) }),
      );
      return;
    case 'pause':
      manager.pause();
      return;
    case 'resume':
      manager.resume();
      return;
    case 'throttle':
      manager.setThrottle(msg.rate);
      return;
    case 'stop':
      done.next();
      return;
  }
}

async function run(): Promise<void> {
  const log = workerLogger(data.logLevel);
  const niceError = lowerThreadPriority(data.nice);
  if (niceError)
    log.warn({ err: niceError, nice: data.nice }, 'could not lower the migration worker thread priority');
  const v1Db = await openV1(log);
  const v1 = await MultiStoreV1.open(v1Db.db, { readOnly: true });
  // Not flushed at close: the node thread reopens v2 right after, and the switch waits for it.
  // Shared with the node's handle when the node opened v2 so: its options (the same small
  // files) are the ones that count, and closing here costs nothing.
  const v2 = await openDb(data.v2Path, {
    createIfMissing: false,
    flushOnClose: false,
    maxFileSize: V2_MAX_FILE_SIZE,
    multithreading: data.v2Shared === true,
  });
  const { manager } = await openV2Home(new KvDb(v2), v1, {
    logger: log,
    throttle: data.throttle,
    history: data.history,
    bufferSize: data.bufferSize,
    batchBytes: data.batchBytes,
    confirmCommits: true,
    handoffSpillDir: handoffSpillPath(data.v2Path),
    handoffBytes: data.handoffBytes,
  });
  manager.confirm(data.confirmed);
  if (data.paused) manager.pause();
  const changesets = new Subject<VersionedChangeset>();
  const done = new Subject<void>();
  manager.progress$.subscribe((progress) => post({ t: 'progress', progress }));
  manager.onMigrated((version) => post({ t: 'migrated', version, state: workerState(manager) }));
  port.on('message', (msg: ToWorker) => onMessage(msg, manager, changesets, done));
  post({ t: 'state', state: workerState(manager) });
  let failure: unknown;
  try {
    await manager.start(data.height, changesets, done);
  } catch (err) {
    failure = err;
  }
  post({ t: 'ended', error: failure === undefined ? undefined : toWireError(failure) });
  try {
    await manager.close();
  } finally {
    await Promise.all([v2.close(), v1Db.close()]);
  }
}

/**
 * v1 for this worker: a handle of its own when the node opened v1 shared (openDb's
 * `multithreading`), so that no read costs the node thread anything; else the node thread's,
 * through the read channel (V1ReadServer). A handle of its own is not flushed at close: the
 * node owns v1, and LevelDB stays open until the node's handle closes too.
 */
async function openV1(log: Logger): Promise<{ db: LevelDatabase; close(): Promise<void> }> {
  if (data.v1Path !== undefined) {
    try {
      const db = await openDb(data.v1Path, {
        createIfMissing: false,
        multithreading: true,
        flushOnClose: false,
      });
      log.info({ v1Reads: 'worker' }, 'the worker reads v1 on its own thread (shared LevelDB handle)');
      return { db, close: () => db.close() };
    } catch (err) {
      log.info(
        { err, v1Reads: 'node-thread' },
        'v1 is not open shared: the worker reads it through the node thread',
      );
    }
  }
  const remote = new RemoteLevel(data.v1Port, new Int32Array(data.v1Flag));
  return { db: remote as unknown as LevelDatabase, close: async () => {} };
}

run()
  .catch((err: unknown) => post({ t: 'ended', error: toWireError(err) }))
  .finally(() => {
    post({ t: 'stopped' });
    data.v1Port.close();
    port.close();
  });
