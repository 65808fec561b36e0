import { closeSync, existsSync, openSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type LevelWithSilent, pino } from 'pino';
import type { LevelDatabase } from '../db/kv-db.js';
import { openDb } from '../db/open-db.js';
import { StoreMigrateError } from '../errors.js';
import { createLogger, type Logger, silentLogger } from '../logger.js';
import type { GlobalOptions } from './cli-context.js';

/** Parsed command-line options as commander hands them to a command. */
export type CommandOptions = Record<string, unknown> & GlobalOptions;

function usage(command: string, message: string): StoreMigrateError {
  return new StoreMigrateError('ERR_USAGE', `${message} (see: store-migrate ${command} --help)`);
}

/** A required string option; its absence is a usage error (exit 2). */
export function requiredOption(opts: CommandOptions, command: string, name: string, flag: string): string {
  const v = opts[name];
  if (typeof v !== 'string' || v.length === 0) throw usage(command, `missing required option ${flag}`);
  return v;
}

/** An optional option that must be one of `choices`; anything else is a usage error. */
export function choiceOption<T extends string>(
  opts: CommandOptions,
  command: string,
  name: string,
  flag: string,
  choices: readonly T[],
): T | undefined {
  const v = opts[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) {
    throw usage(command, `${flag} must be one of ${choices.join(', ')}, not ${JSON.stringify(v)}`);
  }
  return v as T;
}

/**
 * An optional integer option: digits only, at least `min` (1 unless told), at most
 * Number.MAX_SAFE_INTEGER. Anything else is a usage error.
 */
export function intOption(
  opts: CommandOptions,
  command: string,
  name: string,
  flag: string,
  min = 1,
): number | undefined {
  const v = opts[name];
  if (v === undefined) return undefined;
  const n = typeof v === 'string' && /^[0-9]+$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min) {
    const what = min === 1 ? 'a positive integer' : `an integer of at least ${min}`;
    throw usage(command, `${flag} must be ${what}, not ${JSON.stringify(v)}`);
  }
  return n;
}

/**
 * Checks `--log-file` before a command starts: the file is opened for appending (and created
 * if absent) and closed again. A path that cannot be written (a directory, a missing parent
 * directory, no permission) is a usage error naming the path. Parent directories are never
 * created: a typo in the path should fail, not log somewhere unexpected.
 */
export function checkLogFile(opts: GlobalOptions, command: string): void {
  const path = opts.logFile;
  if (path === undefined) return;
  if (typeof path !== 'string' || path.length === 0) throw usage(command, '--log-file must be a file path');
  try {
    closeSync(openSync(path, 'a'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? `the directory ${dirname(path)} does not exist`
        : code === 'EISDIR'
          ? 'it is a directory'
          : code === 'ENOTDIR'
            ? 'a parent in the path is not a directory'
            : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
              ? 'permission denied'
              : ((err as Error).message ?? String(err));
    throw usage(command, `cannot write the log file ${path}: ${why}`);
  }
}

export interface CommandLoggerOptions {
  /**
   * Without --log-file, where log lines go instead of stderr: a progress display's log(), so
   * they print above its bars.
   */
  write?: (line: string) => void;
  /** The level without --verbose and without --log-file. Default 'silent'; serve logs at 'info'. */
  quietLevel?: LevelWithSilent;
}

/**
 * The one place a command gets its logger (pino JSON lines; stdout carries results, so
 * never stdout):
 * - with `--log-file PATH`: appended to PATH, at info level (debug with --verbose), written
 *   synchronously so nothing is lost when the process exits;
 * - otherwise on stderr (or through `write`), at debug level with --verbose and at
 *   `quietLevel` (by default nothing) without.
 * main.ts has checked the path already (checkLogFile).
 */
export function commandLogger(opts: GlobalOptions, options: CommandLoggerOptions = {}): Logger {
  if (opts.logFile !== undefined)
    return createLogger({ level: opts.verbose ? 'debug' : 'info', file: opts.logFile });
  const level = opts.verbose ? 'debug' : (options.quietLevel ?? 'silent');
  if (level === 'silent') return silentLogger;
  if (options.write) return pino({ level, base: undefined }, { write: options.write });
  return createLogger({ level });
}

/** What a `--v1` path holds before anything opens it. */
export type V1PathState = 'missing' | 'empty-dir' | 'database';

/**
 * Looks at a `--v1` path without touching it: LevelDB writes LOCK and LOG files into any
 * directory it is asked to open, even one that holds no database, so we check first.
 */
export function v1PathState(path: string): V1PathState {
  if (!existsSync(path)) return 'missing';
  if (!statSync(path).isDirectory()) {
    throw new StoreMigrateError('ERR_NOT_A_STORE', `${path} is not a directory`, { details: { path } });
  }
  const entries = readdirSync(path);
  if (entries.length === 0) return 'empty-dir';
  if (entries.includes('CURRENT')) return 'database';
  const hint = entries.includes('application.db')
    ? `; it looks like a node home: pass ${join(path, 'application.db')}`
    : '';
  throw new StoreMigrateError('ERR_NOT_A_STORE', `${path} holds files but no LevelDB database${hint}`, {
    details: { path },
  });
}

/** Opens an existing v1 database: ERR_NOT_FOUND when the path does not exist. */
export async function openExistingV1(path: string): Promise<LevelDatabase> {
  const state = v1PathState(path);
  if (state === 'missing') {
    throw new StoreMigrateError('ERR_NOT_FOUND', `no database at ${path}: the directory does not exist`, {
      details: { path },
    });
  }
  if (state === 'empty-dir') {
    throw new StoreMigrateError('ERR_NOT_A_STORE', `${path} is an empty directory, not a database`, {
      details: { path },
    });
  }
  return openDb(path, { createIfMissing: false });
}

/** Runs `fn` on an open database and closes it on every path, success or error. */
export async function withDatabase<T>(db: LevelDatabase, fn: (db: LevelDatabase) => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await fn(db);
  } catch (err) {
    // The command's error is the one to report; a failing close must not hide it.
    await db.close().catch(() => {});
    throw err;
  }
  await db.close();
  return result;
}

/** How the background migration runs: RootStore's `worker`, `changesetJournal` and `workerNice`. */
export interface WorkerOptions {
  worker: boolean;
  /** undefined: neither --changeset-journal nor --no-changeset-journal (the command's default). */
  changesetJournal: boolean | undefined;
  workerNice: number | undefined;
}

/**
 * `--no-worker`, `--[no-]changeset-journal` and `--worker-nice N` (0 to 19). The last two tune
 * the worker thread, so turning either on with `--no-worker` is a usage error rather than ignored.
 */
export function workerOptions(opts: CommandOptions, command: string): WorkerOptions {
  const worker = opts.worker !== false;
  const changesetJournal = typeof opts.changesetJournal === 'boolean' ? opts.changesetJournal : undefined;
  const workerNice = intOption(opts, command, 'workerNice', '--worker-nice', 0);
  if (workerNice !== undefined && workerNice > 19) {
    throw usage(command, `--worker-nice must be at most 19, not ${workerNice}`);
  }
  if (!worker && (changesetJournal === true || (workerNice ?? 0) > 0)) {
    const flag = changesetJournal ? '--changeset-journal' : '--worker-nice';
    throw usage(command, `${flag} tunes the worker thread; it cannot go with --no-worker`);
  }
  return { worker, changesetJournal, workerNice };
}
