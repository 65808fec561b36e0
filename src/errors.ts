/**
 * Stable error codes. Codes are part of the public contract: operators grep for them
 * and tools branch on them. Messages may change; codes may not.
 */
export const ErrorCodes = [
  // encoding
  'ERR_MALFORMED_VARINT',
  'ERR_VARINT_OVERFLOW',
  'ERR_TRUNCATED',
  'ERR_TRAILING_BYTES',
  'ERR_INVALID_REMOVE_FLAG',
  'ERR_MALFORMED_PROTOBUF',
  // tree engine
  'ERR_CORRUPT_NODE',
  'ERR_HASH_MISMATCH',
  'ERR_MISSING_NODE',
  'ERR_MISSING_TREE',
  'ERR_NOT_LOADED',
  'ERR_INVALID_HEIGHT',
  'ERR_IMPORT_ORDER',
  'ERR_IMPORT_INCOMPLETE',
  'ERR_EMPTY_KEY',
  'ERR_VERSION_NOT_FOUND',
  'ERR_VERSION_EXISTS',
  'ERR_VERSION_PRUNED',
  'ERR_READ_ONLY',
  'ERR_KEY_NOT_FOUND',
  // stores
  'ERR_UNKNOWN_STORE',
  'ERR_CHANGESET_GAP',
  'ERR_CHANGESET_CONFLICT',
  'ERR_INVALID_CHANGESET',
  'ERR_SNAPSHOT_ORDER',
  'ERR_SNAPSHOT_IN_PROGRESS',
  'ERR_NOT_A_STORE',
  'ERR_WRONG_CHAIN',
  // migration
  'ERR_STREAM_CLOSED',
  'ERR_STREAM_TRUNCATED',
  'ERR_MIGRATION_RUNNING',
  'ERR_MIGRATION_FAILED',
  'ERR_VERIFY_FAILED',
  'ERR_CORRUPT_CHECKPOINT',
  'ERR_WORKER_DIED',
  // db and io
  'ERR_DB_OPEN',
  'ERR_DB_IO',
  'ERR_NOT_FOUND',
  // cli and rpc
  'ERR_USAGE',
  'ERR_NOT_IMPLEMENTED',
  'ERR_INVALID_PARAMS',
  'ERR_PORT_IN_USE',
  // a bug: an error that is not a StoreMigrateError reached the CLI
  'ERR_INTERNAL',
] as const;

export type ErrorCode = (typeof ErrorCodes)[number];

export interface StoreMigrateErrorOptions {
  cause?: unknown;
  /** Structured facts for logs and JSON output (version, store, offset, ...). */
  details?: Record<string, unknown>;
}

/** The one error class of the project. Branch on `code`, never on `message`. */
export class StoreMigrateError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: StoreMigrateErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StoreMigrateError';
    this.code = code;
    this.details = options.details;
  }

  /**
   * Adds the context of the layer that caught `err` (which store, which height), as Go wraps
   * with `%w`: the code stays, the message gains a prefix, the details merge, and the original
   * error is the cause. Anything that is not a StoreMigrateError becomes one with `fallback`.
   * @example
   * throw StoreMigrateError.wrap(err, `store ${name} at ${height}`, { store: name, height });
   * // ERR_MISSING_NODE: store bank at 17: node 0000…0003 is missing from the database
   */
  static wrap(
    err: unknown,
    context: string,
    details: Record<string, unknown> = {},
    fallback: ErrorCode = 'ERR_INTERNAL',
  ): StoreMigrateError {
    const inner = err instanceof StoreMigrateError ? err : undefined;
    const message = err instanceof Error ? err.message : String(err);
    return new StoreMigrateError(inner?.code ?? fallback, `${context}: ${message}`, {
      cause: err,
      details: { ...inner?.details, ...details },
    });
  }

  /** Wraps any thrown value; a StoreMigrateError passes through unchanged. */
  static from(err: unknown, code: ErrorCode, message: string): StoreMigrateError {
    if (err instanceof StoreMigrateError) return err;
    return new StoreMigrateError(code, `${message}: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
}

/** An error as it crosses a thread boundary (structured clone drops the class). */
export interface WireError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/**
 * `err` as a WireError, to post to another thread.
 * @example
 * port.postMessage({ t: 'failed', error: toWireError(err) });
 */
export function toWireError(err: unknown, fallback: ErrorCode = 'ERR_MIGRATION_FAILED'): WireError {
  const e = StoreMigrateError.from(err, fallback, 'failed');
  return { code: e.code, message: e.message, details: e.details };
}

/**
 * The StoreMigrateError a WireError stands for (an unknown code becomes ERR_INTERNAL).
 * @example
 * throw fromWireError(reply.error); // same code and message as on the other thread
 */
export function fromWireError(w: WireError): StoreMigrateError {
  const known = (ErrorCodes as readonly string[]).includes(w.code);
  return new StoreMigrateError(known ? (w.code as ErrorCode) : 'ERR_INTERNAL', w.message, {
    details: w.details,
  });
}

export function isStoreMigrateError(err: unknown, code?: ErrorCode): err is StoreMigrateError {
  return err instanceof StoreMigrateError && (code === undefined || err.code === code);
}
