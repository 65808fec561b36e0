import { createServer } from 'node:net';
import { StoreMigrateError } from '../errors.js';
import type { Logger } from '../logger.js';
import { statusDocument } from '../rpc/methods.js';
import { type RpcServer, startRpcServer } from '../rpc/rpc-server.js';
import { openNodeHome } from '../v2/root/node-home.js';
import { RootStore } from '../v2/root/root-store.js';
import { EXIT_OK, printResult } from './cli-context.js';
import {
  type CommandOptions,
  commandLogger,
  intOption,
  requiredOption,
  type WorkerOptions,
  workerOptions,
} from './options.js';
import { catchSignals } from './signals.js';

/** The default RPC port: clear of CometBFT (26657), the Cosmos REST API (1317) and gRPC (9090). */
export const DEFAULT_SERVE_PORT = 8547;
const DEFAULT_HOST = '127.0.0.1';
/** Interval between progress log lines while the migration runs. */
const PROGRESS_LOG_MS = 5000;

function usage(message: string): StoreMigrateError {
  return new StoreMigrateError('ERR_USAGE', `${message} (see: store-migrate serve --help)`);
}

/**
 * `serve --home DIR [--host H] [--port P] [--throttle N] [--no-worker] [--[no-]changeset-journal]
 * [--worker-nice N]`: opens a node home as a node does on
 * startup (the background migration starts or resumes if v2 is behind v1, and the store
 * switches once it has caught up), serves JSON-RPC until SIGINT or SIGTERM, then closes
 * cleanly. Logs (pino JSON, the RPC server's included) go to stderr, or to the file of
 * --log-file; stdout gets one line with the URL and, at the end, a summary (one JSON document
 * with --json, and then no URL line).
 */
export async function runServe(opts: CommandOptions): Promise<number> {
  const home = requiredOption(opts, 'serve', 'home', '--home <dir>');
  const host = opts.host === undefined ? DEFAULT_HOST : opts.host;
  if (typeof host !== 'string' || host.length === 0) throw usage('--host must be a host name or address');
  const port = intOption(opts, 'serve', 'port', '--port', 0) ?? DEFAULT_SERVE_PORT;
  if (port > 65535) throw usage(`--port must be at most 65535, not ${port}`);
  const throttle = intOption(opts, 'serve', 'throttle', '--throttle');
  const how = workerOptions(opts, 'serve');
  const logger = commandLogger(opts, { quietLevel: 'info' });

  // Before touching the home: a port that is taken must not leave a half-started migration behind.
  await assertPortFree(host, port);
  const signals = catchSignals(logger);
  try {
    return await serveUntilSignal(opts, { home, host, port, throttle, ...how, logger }, signals.signal);
  } finally {
    signals.release();
  }
}

async function serveUntilSignal(
  opts: CommandOptions,
  o: {
    home: string;
    host: string;
    port: number;
    throttle: number | undefined;
    logger: Logger;
  } & WorkerOptions,
  stop: Promise<NodeJS.Signals>,
): Promise<number> {
  const { home, logger } = o;
  const nodeHome = await openNodeHome(home);
  let store: RootStore;
  try {
    store = await RootStore.open(nodeHome.v1, nodeHome.v2, {
      logger,
      throttle: o.throttle,
      worker: o.worker,
      changesetJournal: o.changesetJournal,
      workerNice: o.workerNice,
    });
  } catch (err) {
    await nodeHome.close();
    throw err;
  }
  let server: RpcServer;
  try {
    server = await startRpcServer(store, {
      host: o.host,
      port: o.port,
      logger,
      processMetrics: true,
      logRequests: opts.verbose === true,
    });
  } catch (err) {
    await store.close().catch((closeErr: unknown) => {
      logger.warn({ err: closeErr }, 'closing the store after the RPC server failed to start');
    });
    await nodeHome.close();
    throw err;
  }
  const started = Date.now();
  const stopLogging = logProgress(store, logger, opts.progress !== false);
  if (!opts.json) process.stdout.write(`listening on ${server.url}\n`);
  logger.info({ home, url: server.url, ...phaseOf(store) }, 'serving');

  const signal = await stop;
  logger.info({ signal }, 'shutting down');
  stopLogging();
  const final = statusDocument(store);
  try {
    await server.close();
    await store.close();
  } finally {
    await nodeHome.close();
  }
  logger.info('stopped');
  const summary = {
    home,
    url: server.url,
    signal,
    uptimeMs: Date.now() - started,
    phase: final.phase,
    migratedVersion: final.migratedVersion,
    latestVersion: final.latestVersion,
    switchedAtVersion: final.switchedAtVersion,
  };
  printResult(
    opts,
    summary,
    () =>
      `stopped on ${signal}: phase ${summary.phase}, latest version ${summary.latestVersion}` +
      (summary.switchedAtVersion === undefined ? '' : `, switched after ${summary.switchedAtVersion}`),
  );
  return EXIT_OK;
}

function phaseOf(store: RootStore) {
  const s = store.status();
  return { phase: s.phase, migratedVersion: s.migratedVersion, latestVersion: s.latestVersion };
}

/** Probes the address with a plain listen and close; the RPC server binds it for real later. */
async function assertPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE')
        reject(new StoreMigrateError('ERR_PORT_IN_USE', `port ${port} on ${host} is in use`));
      // Anything else (no permission, not an address of this host): the real listen reports it.
      else resolve();
    });
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/**
 * A progress line every few seconds until the switch. (RootStore and the migration log their
 * own milestones: started, restore done, switched, failed.)
 */
function logProgress(store: RootStore, logger: Logger, enabled: boolean): () => void {
  if (!enabled) return () => {};
  const log = logger.child({ component: 'serve' });
  const timer = setInterval(() => {
    const s = statusDocument(store);
    if (s.phase === 'switched' || s.phase === 'failed' || s.phase === 'not-started') return;
    log.info(
      {
        phase: s.phase,
        percent: s.progress.percent,
        leavesDone: s.progress.leavesDone,
        leavesTotal: s.progress.leavesTotal,
        rate: Math.round(s.progress.rate ?? 0),
        etaSeconds: s.progress.etaSeconds === undefined ? undefined : Math.round(s.progress.etaSeconds),
        migratedVersion: s.migratedVersion,
        targetVersion: s.targetVersion,
      },
      'migration progress',
    );
  }, PROGRESS_LOG_MS);
  timer.unref();
  return () => clearInterval(timer);
}
