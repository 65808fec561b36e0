import { execFile, spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { encodeUvarint } from '../../src/encoding/varint.js';

const run = promisify(execFile);

/** interop/go, from dist-bench/benchmarks/lib/ (benchmarks run compiled). */
const INTEROP = new URL('../../../interop/go/', import.meta.url).pathname;
const BUILD_TIMEOUT_MS = 10 * 60_000;

/** Why Go's side of a benchmark did not run: the result carries it instead of Go's figures. */
export interface GoSkipped {
  skipped: string;
}

let built: string | GoSkipped | undefined;

/**
 * The goref binary of iavl v1.2 (cosmos-sdk v0.50+), built once per run from the pinned module.
 * Without Go, or when the module proxy refuses, the reason instead: the benchmark still runs.
 */
export function gorefBench(): string | GoSkipped {
  if (built !== undefined) return built;
  if (spawnSync('go', ['version']).status !== 0) {
    built = { skipped: 'go is not on PATH' };
    return built;
  }
  const r = spawnSync('bash', [join(INTEROP, 'goref'), 'build', 'v050'], {
    encoding: 'utf8',
    timeout: BUILD_TIMEOUT_MS,
  });
  built =
    r.status === 0
      ? join(INTEROP, 'bin', 'goref-v050')
      : {
          skipped: `building interop/go/v050 failed: ${(r.stderr || String(r.error)).trim().split('\n').at(-1)}`,
        };
  return built;
}

/** Runs `goref-v050 bench ...` and parses the JSON it prints. */
export async function runGorefBench<T>(bin: string, args: string[]): Promise<T> {
  const { stdout } = await run(bin, ['bench', ...args], { maxBuffer: 64 << 20, timeout: 60 * 60_000 });
  return JSON.parse(stdout) as T;
}

/** Writes pairs as `uvarint(len k) k uvarint(len v) v`, the file `goref bench iavl --data` reads. */
export async function writePairs(path: string, keys: Uint8Array[], values: Uint8Array[]): Promise<void> {
  const out = createWriteStream(path);
  for (let i = 0; i < keys.length; i++) {
    out.write(encodeUvarint(keys[i].length));
    out.write(keys[i]);
    out.write(encodeUvarint(values[i].length));
    if (!out.write(values[i])) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) =>
    out.end((err?: Error | null) => (err ? reject(err) : resolve())),
  );
}
