import { StoreMigrateError } from '../errors.js';

/** Options every command takes. */
export interface GlobalOptions {
  json?: boolean;
  progress?: boolean;
  verbose?: boolean;
  /** `--log-file <path>`: logs go to this file (appended) instead of stderr. */
  logFile?: string;
}

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Codes that mean the operator typed something wrong, rather than the work failing. */
const USAGE_CODES = new Set(['ERR_USAGE', 'ERR_NOT_IMPLEMENTED', 'ERR_INVALID_PARAMS']);

export function exitCodeFor(err: unknown): number {
  return err instanceof StoreMigrateError && USAGE_CODES.has(err.code) ? EXIT_USAGE : EXIT_FAILED;
}

/** One line, starting with the code; the stack only with --verbose. */
export function formatError(err: unknown, verbose: boolean): string {
  if (err instanceof StoreMigrateError) {
    const line = `${err.code}: ${err.message}`;
    return verbose && err.stack ? `${line}\n${err.stack}` : line;
  }
  const msg = err instanceof Error ? err.message : String(err);
  const line = `ERR_INTERNAL: ${msg}`;
  return verbose && err instanceof Error && err.stack ? `${line}\n${err.stack}` : line;
}

/** Prints a command's result: one JSON document with --json, otherwise the human form. */
export function printResult(opts: GlobalOptions, result: unknown, human: () => string): void {
  if (opts.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else process.stdout.write(`${human()}\n`);
}
