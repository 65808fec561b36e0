import Fastify, { type FastifyError, type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import { StoreMigrateError } from '../errors.js';
import { type Logger, silentLogger } from '../logger.js';
import type { RootStore } from '../v2/root/root-store.js';
import { errorResponse, INTERNAL_ERROR, INVALID_REQUEST, JsonRpcDispatcher } from './json-rpc.js';
import { storeMethods } from './methods.js';
import { RpcMetrics } from './metrics.js';

export interface RpcServerOptions {
  /** Bind address. Default 127.0.0.1: the RPC is for the operator's host, not the network. */
  host?: string;
  /** 0 picks a free port; the bound one is in the result. */
  port: number;
  logger?: Logger;
  /** Largest request body in bytes (default 1 MiB); a larger one gets HTTP 413. */
  bodyLimit?: number;
  /** Most requests in one JSON-RPC batch (default 100). */
  maxBatch?: number;
  /** Export Node's process metrics on /metrics too (default false). */
  processMetrics?: boolean;
  /** Log every HTTP request at info level (default false: only errors are logged). */
  logRequests?: boolean;
}

export interface RpcServer {
  /** http://host:port, for clients. */
  url: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/**
 * Serves a RootStore over HTTP: JSON-RPC 2.0 on `POST /` (see json-rpc.ts and methods.ts),
 * liveness on `GET /health` and Prometheus text on `GET /metrics`.
 */
export async function startRpcServer(store: RootStore, options: RpcServerOptions): Promise<RpcServer> {
  const host = options.host ?? '127.0.0.1';
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const log = (options.logger ?? silentLogger).child({ component: 'rpc' });
  const methods = storeMethods(store);
  const metrics = new RpcMetrics(store, { processMetrics: options.processMetrics, methods: methods.keys() });
  const rpc = new JsonRpcDispatcher(methods, {
    maxBatch: options.maxBatch,
    logger: log,
    onCall: (m, ok) => metrics.recordCall(m, ok),
  });
  const app = createApp(log, bodyLimit, options.logRequests === true);

  // The body reaches the dispatcher as text, so malformed JSON is a JSON-RPC parse error
  // (-32700) and not an HTTP 400. Any other content type is refused with 415.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  addRoutes(app, store, rpc, metrics);
  app.setErrorHandler(errorHandler(log, bodyLimit));

  try {
    await app.listen({ host, port: options.port });
  } catch (err) {
    metrics.close();
    // The listen error is the one to report; a server that never listened has nothing to lose.
    await app.close().catch(() => {});
    throw listenError(err, host, options.port);
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  let closing: Promise<void> | undefined;
  return {
    url,
    host,
    port,
    close: () => {
      closing ??= (async () => {
        metrics.close();
        await app.close();
      })();
      return closing;
    },
  };
}

function createApp(log: Logger, bodyLimit: number, logRequests: boolean) {
  return Fastify({
    loggerInstance: log,
    logController: new LogController({ disableRequestLogging: !logRequests }),
    bodyLimit,
    return503OnClosing: true,
  });
}

type App = ReturnType<typeof createApp>;

/** `POST /` for JSON-RPC (405 for other methods), `GET /health`, `GET /metrics`, and a 404 for the rest. */
function addRoutes(app: App, store: RootStore, rpc: JsonRpcDispatcher, metrics: RpcMetrics): void {
  app.post('/', async (req, reply) => {
    const answer = await rpc.handleText(typeof req.body === 'string' ? req.body : '');
    if (answer === undefined) return reply.code(204).send();
    return reply.type('application/json; charset=utf-8').send(JSON.stringify(answer));
  });
  app.route({
    method: ['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'],
    url: '/',
    handler: async (req, reply) =>
      reply
        .code(405)
        .header('allow', 'POST')
        .send(
          errorResponse(null, {
            code: INVALID_REQUEST,
            message: `Invalid Request: ${req.method} / is not JSON-RPC; POST a JSON-RPC 2.0 body with Content-Type: application/json`,
          }),
        ),
  });
  app.get('/health', async () => {
    const s = store.status();
    return { ok: true, phase: s.phase, latestVersion: s.latestVersion };
  });
  app.get('/metrics', async (_req, reply) => reply.type(metrics.contentType).send(await metrics.render()));

  app.setNotFoundHandler(async (req, reply) =>
    reply.code(404).send({
      ok: false,
      error: `no route ${req.method} ${req.url.slice(0, 200)}; JSON-RPC is POST /, and there are GET /health and GET /metrics`,
    }),
  );
}

/**
 * Errors before a handler runs (body too large, wrong content type, bad framing) and any a
 * handler throws: always an answer, never a crash.
 */
function errorHandler(log: Logger, bodyLimit: number) {
  return async (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 ? err.statusCode : 500;
    if (status >= 500) log.error({ err, url: req.url }, 'request failed');
    const message =
      err.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
        ? `Invalid Request: the body is larger than the limit of ${bodyLimit} bytes`
        : err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
          ? `Invalid Request: Content-Type must be application/json, not ${JSON.stringify(req.headers['content-type'] ?? '')}`
          : status >= 500
            ? `Internal error: ${err.message}`
            : `Invalid Request: ${err.message}`;
    if (req.url === '/' || req.url.startsWith('/?')) {
      return reply
        .code(status)
        .send(errorResponse(null, { code: status >= 500 ? INTERNAL_ERROR : INVALID_REQUEST, message }));
    }
    return reply.code(status).send({ ok: false, error: message });
  };
}

/** A bind failure in the operator's terms: ERR_PORT_IN_USE (the CLI exits 1). */
function listenError(err: unknown, host: string, port: number): StoreMigrateError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const where = `port ${port} on ${host}`;
  const message =
    code === 'EADDRINUSE'
      ? `${where} is in use`
      : code === 'EACCES'
        ? `no permission to listen on ${where}`
        : code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN'
          ? `cannot listen on ${where}: ${host} is not an address of this machine`
          : `cannot listen on ${where}: ${err instanceof Error ? err.message : String(err)}`;
  return new StoreMigrateError('ERR_PORT_IN_USE', message, {
    cause: err,
    details: { host, port, errno: code },
  });
}
