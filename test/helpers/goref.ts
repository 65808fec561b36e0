import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Where scripts/test-go.sh builds the Go reference binaries. */
export const GOREF_BIN_DIR = new URL('../../interop/go/bin/', import.meta.url).pathname;

export type GoEra = 'v045' | 'v047' | 'v050';

export function gorefBin(era: GoEra): string {
  const bin = join(GOREF_BIN_DIR, `goref-${era}`);
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run npm run test:go (it builds interop/go)`);
  return bin;
}

/** Runs one goref command with an era's binary and returns its stdout. */
export async function goref(era: GoEra, args: string[], timeoutMs = 120_000): Promise<string> {
  const { stdout } = await run(gorefBin(era), args, { timeout: timeoutMs, maxBuffer: 256 << 20 });
  return stdout;
}
