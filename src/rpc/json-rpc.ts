import { StoreMigrateError } from '../errors.js';
import { type Logger, silentLogger } from '../logger.js';

/**
 * JSON-RPC 2.0 (https://www.jsonrpc.org/specification), transport-free: the HTTP server hands
 * over the body text and sends back what comes out. Envelopes, batches and notifications are
 * handled here; the methods (methods.ts) only see their params.
 */

export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const METHOD_NOT_FOUND = -32601;
export const INVALID_PARAMS = -32602;
export const INTERNAL_ERROR = -32603;
/** A StoreMigrateError from the store; `data.code` carries its `ERR_…` code. */
export const SERVER_ERROR = -32000;

export type JsonRpcId = string | number | null;

export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: Record<string, unknown>;
}

export type JsonRpcResponse =
  | { jsonrpc: '2.0'; id: JsonRpcId; result: unknown }
  | { jsonrpc: '2.0'; id: JsonRpcId; error: JsonRpcErrorObject };

/** What a method throws to answer with a given JSON-RPC error. */
export class JsonRpcError extends Error {
  readonly code: number;
  readonly data: Record<string, unknown> | undefined;

  constructor(code: number, message: string, data?: Record<string, unknown>) {
    super(message);
    this.name = 'JsonRpcError';
    this.code = code;
    this.data = data;
  }
}

/** `params` as the request sent it: absent (or null), by name, or by position. */
export type RawParams = undefined | Record<string, unknown> | unknown[];

export type JsonRpcMethod = (params: RawParams) => Promise<unknown>;

export interface DispatcherOptions {
  /** Most entries one batch may hold (default 100). */
  maxBatch?: number;
  logger?: Logger;
  /** Called once per call that reached a method, for metrics. */
  onCall?: (method: string, ok: boolean) => void;
}

/** Codes of StoreMigrateErrors that mean the caller's params are wrong, rather than the store failing. */
const PARAM_CODES = new Set(['ERR_INVALID_PARAMS', 'ERR_EMPTY_KEY']);

/** Maps anything a method throws to a JSON-RPC error object. */
export function toErrorObject(err: unknown): JsonRpcErrorObject {
  if (err instanceof JsonRpcError) {
    return err.data === undefined
      ? { code: err.code, message: err.message }
      : { code: err.code, message: err.message, data: err.data };
  }
  if (err instanceof StoreMigrateError) {
    return {
      code: PARAM_CODES.has(err.code) ? INVALID_PARAMS : SERVER_ERROR,
      message: err.message,
      data: { code: err.code, ...plainDetails(err.details) },
    };
  }
  return {
    code: INTERNAL_ERROR,
    message: `Internal error: ${err instanceof Error ? err.message : String(err)}`,
  };
}

/** The JSON-friendly part of an error's details (numbers, strings, booleans). */
function plainDetails(details: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(details ?? {})) {
    if (k !== 'code' && (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean'))
      out[k] = v;
  }
  return out;
}

export function errorResponse(id: JsonRpcId, error: JsonRpcErrorObject): JsonRpcResponse {
  return { jsonrpc: '2.0', id, error };
}

function invalidRequest(id: JsonRpcId, why: string): JsonRpcResponse {
  return errorResponse(id, { code: INVALID_REQUEST, message: `Invalid Request: ${why}` });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isId(v: unknown): v is JsonRpcId {
  return v === null || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** Answers JSON-RPC 2.0 requests, single or batched, against a table of methods. */
export class JsonRpcDispatcher {
  readonly #methods: ReadonlyMap<string, JsonRpcMethod>;
  readonly #maxBatch: number;
  readonly #log: Logger;
  readonly #onCall: ((method: string, ok: boolean) => void) | undefined;

  constructor(methods: ReadonlyMap<string, JsonRpcMethod>, options: DispatcherOptions = {}) {
    this.#methods = methods;
    this.#maxBatch = options.maxBatch ?? 100;
    this.#log = options.logger ?? silentLogger;
    this.#onCall = options.onCall;
  }

  /**
   * Answers a request body. Undefined means there is nothing to send back: the body held
   * only notifications.
   */
  async handleText(text: string): Promise<JsonRpcResponse | JsonRpcResponse[] | undefined> {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch (err) {
      const why = text.trim().length === 0 ? 'the body is empty' : (err as Error).message;
      return errorResponse(null, { code: PARSE_ERROR, message: `Parse error: ${why}` });
    }
    return this.handle(message);
  }

  /** Answers an already parsed message: one request or a batch. */
  async handle(message: unknown): Promise<JsonRpcResponse | JsonRpcResponse[] | undefined> {
    if (!Array.isArray(message)) return this.#one(message);
    if (message.length === 0) return invalidRequest(null, 'an empty batch');
    if (message.length > this.#maxBatch) {
      return invalidRequest(
        null,
        `a batch of ${message.length} requests; at most ${this.#maxBatch} are allowed`,
      );
    }
    const answers = await Promise.all(message.map((m) => this.#one(m)));
    const out = answers.filter((a): a is JsonRpcResponse => a !== undefined);
    return out.length > 0 ? out : undefined;
  }

  async #one(req: unknown): Promise<JsonRpcResponse | undefined> {
    if (!isPlainObject(req)) return invalidRequest(null, `a request must be an object, not ${describe(req)}`);
    const hasId = Object.hasOwn(req, 'id');
    if (hasId && !isId(req.id)) {
      return invalidRequest(null, `id must be a string, a number or null, not ${describe(req.id)}`);
    }
    const id: JsonRpcId = hasId ? (req.id as JsonRpcId) : null;
    if (req.jsonrpc !== '2.0') {
      return invalidRequest(
        id,
        Object.hasOwn(req, 'jsonrpc')
          ? `jsonrpc must be "2.0", not ${JSON.stringify(req.jsonrpc)}`
          : 'the jsonrpc member ("2.0") is missing',
      );
    }
    if (typeof req.method !== 'string') {
      return invalidRequest(
        id,
        Object.hasOwn(req, 'method')
          ? `method must be a string, not ${describe(req.method)}`
          : 'the method member is missing',
      );
    }
    const params = req.params;
    if (params !== undefined && params !== null && typeof params !== 'object') {
      return invalidRequest(id, `params must be an object or an array, not ${describe(params)}`);
    }
    const method = this.#methods.get(req.method);
    // A notification gets no answer, not even an error (JSON-RPC 2.0, section 4.1).
    const answer = (r: JsonRpcResponse) => (hasId ? r : undefined);
    if (method === undefined) {
      return answer(
        errorResponse(id, {
          code: METHOD_NOT_FOUND,
          message: `Method not found: ${JSON.stringify(req.method.slice(0, 100))}`,
        }),
      );
    }
    try {
      const result = await method((params ?? undefined) as RawParams);
      this.#onCall?.(req.method, true);
      return answer({ jsonrpc: '2.0', id, result });
    } catch (err) {
      this.#onCall?.(req.method, false);
      const error = toErrorObject(err);
      if (error.code === INTERNAL_ERROR) this.#log.error({ err, method: req.method }, 'rpc method failed');
      else this.#log.debug({ method: req.method, error }, 'rpc call answered with an error');
      return answer(errorResponse(id, error));
    }
  }
}
