import { type Logger, pino } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  /** A file path; logs go to stderr when absent. */
  file?: string;
}

/** The project logger: JSON lines to stderr (never stdout, which carries results). */
export function createLogger(options: LoggerOptions = {}): Logger {
  const destination = options.file
    ? pino.destination({ dest: options.file, mkdir: true, sync: true })
    : pino.destination(2);
  return pino({ level: options.level ?? 'info', base: undefined }, destination);
}

/** A logger that drops everything, for library users who pass none. */
export const silentLogger: Logger = pino({ level: 'silent' });
