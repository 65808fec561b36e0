import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openDb } from '../../src/db/open-db.js';
import { toHex } from '../../src/encoding/bytes.js';
import { generateSyntheticState, type SyntheticStateProgress } from '../../src/workload/synthetic-state.js';
import type { FixtureMeta, FixtureSpec } from './fixture.js';
import { generatorSha256 } from './fixture.js';
import { dirSize } from './fs-util.js';
import { settleDb } from './settle-db.js';

/**
 * Child process of `ensureFixture` (lib/fixture.ts):
 *   node dist-bench/benchmarks/lib/fixture-gen.js '<FixtureSpec JSON>' <out dir>
 * writes `<out dir>/application.db` with generateSyntheticState, settles it (settleDb), then
 * writes `<out dir>/meta.json`.
 */

async function main(): Promise<void> {
  if (process.argv[2] === '--settle') {
    // Settles an existing database: node fixture-gen.js --settle <db dir>
    const ms = await settleDb(process.argv[3] ?? '');
    console.error(`[fixture] settled ${process.argv[3]} in ${(ms / 1000).toFixed(1)} s`);
    return;
  }
  const spec = JSON.parse(process.argv[2] ?? '') as FixtureSpec;
  const out = process.argv[3];
  if (out === undefined) throw new Error('usage: fixture-gen.js <spec json> <out dir>');
  const dbPath = join(out, 'application.db');
  const db = await openDb(dbPath);
  const started = performance.now();
  let lastReport = 0;
  const onProgress = (p: SyntheticStateProgress): void => {
    const now = performance.now();
    if (p.phase === 'build' && now - lastReport < 10_000) return;
    lastReport = now;
    console.error(
      `[fixture] ${((now - started) / 1000).toFixed(0)} s: version ${p.version}/${p.versions} ${p.phase}` +
        ` (${p.versionChanges.toLocaleString('en-US')} changes; ` +
        `${p.changesCommitted.toLocaleString('en-US')} of ${p.changesTotal.toLocaleString('en-US')} committed)`,
    );
  };
  let meta: FixtureMeta;
  try {
    const stats = await generateSyntheticState(
      db,
      {
        stores: spec.stores,
        keys: spec.leaves,
        versions: spec.versions,
        seed: spec.seed,
        layout: spec.layout,
      },
      onProgress,
    );
    const generateMs = performance.now() - started;
    await db.close();
    console.error('[fixture] settling the database (reopen, compact the whole range)');
    const settleMs = await settleDb(dbPath);
    meta = {
      spec,
      latestVersion: stats.lastCommit.version,
      appHash: toHex(stats.lastCommit.appHash),
      stores: stats.stores,
      keys: stats.keys,
      created: stats.created,
      updated: stats.updated,
      deleted: stats.deleted,
      valueBytes: stats.valueBytes,
      generateMs,
      settled: true,
      settleMs,
      generatorSha256: generatorSha256(),
      createdAt: new Date().toISOString(),
      node: process.version,
      db: await dirSize(dbPath),
    };
  } finally {
    if (db.status === 'open') await db.close();
  }
  await writeFile(join(out, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
