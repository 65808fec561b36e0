import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants, existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, readFile, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DirSize, removeDir } from './fs-util.js';

/**
 * Generated store v1 fixtures, cached outside the repository and shared by every scenario:
 * `<os.tmpdir()>/store-migrate-bench-cache/<key>/application.db` plus `meta.json`, where the
 * key names the leaves, stores, versions and seed (`STORE_MIGRATE_BENCH_CACHE` moves the
 * cache). A run never opens the cached database: it copies it into its own temporary
 * directory first (`copyFixture`), because opening a LevelDB writes to it.
 */

export interface FixtureSpec {
  /** Live keys (leaves) at the latest version, over all stores. */
  leaves: number;
  stores: number;
  /** Versions of history; 2 keeps the leaves at the latest version close to `leaves`. */
  versions: number;
  seed: number;
  /** Tree layout of the v1 stores: legacy (cosmos-sdk ≤ v0.47, the default) or node-key (v0.50+). */
  layout?: 'legacy' | 'node-key';
}

export interface FixtureMeta {
  spec: FixtureSpec;
  latestVersion: number;
  appHash: string;
  /** Leaves per store at the latest version. */
  stores: Array<{ name: string; keys: number }>;
  keys: number;
  created: number;
  updated: number;
  deleted: number;
  valueBytes: number;
  /** Time the generation took, in its own process. */
  generateMs: number;
  /** Reopened and compacted after generation (lib/fixture-gen.ts settleDb); older fixtures are regenerated. */
  settled: boolean;
  settleMs: number;
  /** sha256 of src/workload/synthetic-state.ts when the fixture was made. */
  generatorSha256: string;
  createdAt: string;
  node: string;
  db: DirSize;
}

export interface Fixture {
  key: string;
  dir: string;
  /** The cached database; copy it, never open it. */
  dbPath: string;
  meta: FixtureMeta;
  /** True when this call generated it (false: it came from the cache). */
  generated: boolean;
  /** Wall time of this call (generation included when it generated). */
  ensureMs: number;
}

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const GENERATOR_SOURCE = join(REPO_ROOT, 'src/workload/synthetic-state.ts');

export function cacheRoot(): string {
  return process.env.STORE_MIGRATE_BENCH_CACHE ?? join(tmpdir(), 'store-migrate-bench-cache');
}

export function fixtureKey(s: FixtureSpec): string {
  const layout = s.layout === 'node-key' ? '.node-key' : '';
  return `leaves-${s.leaves}.stores-${s.stores}.versions-${s.versions}.seed-${s.seed}${layout}`;
}

export function generatorSha256(): string {
  try {
    return createHash('sha256').update(readFileSync(GENERATOR_SOURCE)).digest('hex');
  } catch {
    return 'unknown';
  }
}

async function readMeta(dir: string): Promise<FixtureMeta | undefined> {
  const metaPath = join(dir, 'meta.json');
  if (!existsSync(metaPath) || !existsSync(join(dir, 'application.db'))) return undefined;
  const meta = JSON.parse(await readFile(metaPath, 'utf8')) as FixtureMeta;
  // Made before fixtures were settled: its log would be replayed on every open.
  return meta.settled === true ? meta : undefined;
}

/**
 * The cached fixture for `spec`, generated first when the cache does not have it. Generation
 * runs in a child process (its garbage never reaches the measuring process) into a private
 * directory that is renamed into place only when complete, so an interrupted or concurrent
 * generation never leaves a half-written fixture behind.
 */
export async function ensureFixture(spec: FixtureSpec, log: (line: string) => void): Promise<Fixture> {
  const started = performance.now();
  const key = fixtureKey(spec);
  const dir = join(cacheRoot(), key);
  const cached = await readMeta(dir);
  if (cached === undefined && existsSync(dir)) {
    log(`fixture ${key} in the cache is incomplete or unsettled; generating it again`);
    const stale = join(cacheRoot(), `.stale-${key}-${process.pid}-${Date.now()}`);
    await rename(dir, stale);
    await removeDir(stale);
  }
  if (cached !== undefined) {
    const sha = generatorSha256();
    if (sha !== 'unknown' && cached.generatorSha256 !== sha) {
      log(
        `warning: src/workload/synthetic-state.ts changed since fixture ${key} was made; ` +
          `delete ${dir} to regenerate it`,
      );
    }
    log(`fixture ${key} from the cache (${dir})`);
    return {
      key,
      dir,
      dbPath: join(dir, 'application.db'),
      meta: cached,
      generated: false,
      ensureMs: performance.now() - started,
    };
  }
  await mkdir(cacheRoot(), { recursive: true });
  const partial = join(cacheRoot(), `.partial-${key}-${process.pid}-${Date.now()}`);
  await mkdir(partial, { recursive: true });
  log(`generating fixture ${key} into the cache (a child process; once per machine)`);
  try {
    await runGenerator(spec, partial);
    try {
      await rename(partial, dir);
    } catch (err) {
      // Another run finished the same fixture first: use theirs.
      const code = (err as NodeJS.ErrnoException).code;
      if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || (await readMeta(dir)) === undefined) throw err;
      await removeDir(partial);
    }
  } catch (err) {
    await removeDir(partial);
    throw err;
  }
  const meta = await readMeta(dir);
  if (meta === undefined) throw new Error(`fixture ${key} is incomplete after generation`);
  log(`fixture ${key}: generated in ${(meta.generateMs / 1000).toFixed(1)} s`);
  return {
    key,
    dir,
    dbPath: join(dir, 'application.db'),
    meta,
    generated: true,
    ensureMs: performance.now() - started,
  };
}

function runGenerator(spec: FixtureSpec, outDir: string): Promise<void> {
  const script = fileURLToPath(new URL('./fixture-gen.js', import.meta.url));
  // Version 1 holds almost every key and is committed as one batch: give the heap room.
  const heapMiB = Math.min(16_384, Math.max(4096, Math.ceil(spec.leaves / 1_000_000) * 3072));
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [`--max-old-space-size=${heapMiB}`, script, JSON.stringify(spec), outDir],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`fixture generation failed (exit ${code ?? signal})`));
    });
  });
}

/**
 * Copies a cached fixture's database to `dest` (which must not exist), cloning files where
 * the file system can. Returns the wall time of the copy.
 */
export async function copyFixture(fixture: Fixture, dest: string): Promise<number> {
  const t = performance.now();
  await cp(fixture.dbPath, dest, { recursive: true, mode: constants.COPYFILE_FICLONE });
  return performance.now() - t;
}
