import { getPriority } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openDb } from '../../src/db/open-db.js';
import { ReferenceNode } from '../../src/demo/reference-node.js';
import { utf8 } from '../../src/encoding/bytes.js';
import { isStoreMigrateError } from '../../src/errors.js';
import { MultiStoreV1 } from '../../src/v1/multi-store-v1.js';
import { generateSyntheticState } from '../../src/workload/synthetic-state.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { threadNices } from '../helpers/thread-nices.js';

const tempDir = useTempDirs();

describe('ReferenceNode (in this thread)', () => {
  it('commits blocks in order and answers app hashes as a MultiStoreV1 would', async () => {
    const path = join(tempDir('ref'), 'reference.db');
    const db = await openDb(path);
    const stats = await generateSyntheticState(db, { stores: 2, keys: 500, versions: 3 });
    await db.close();

    const ref = await ReferenceNode.open(path, { worker: false });
    expect(ref.inWorker).toBe(false);
    const cs = { changes: [{ store: stats.stores[0].name, pairs: [{ key: utf8('k'), value: utf8('v') }] }] };
    // Requests are not awaited one by one: they still apply in order.
    const [h4, h5] = await Promise.all([ref.commit(4, cs), ref.commit(5, { changes: [] })]);
    const hashes = await ref.appHashes(1, 5);
    expect(hashes).toHaveLength(5);
    expect(hashes[2]).toEqual(stats.lastCommit.appHash);
    expect(hashes[3]).toEqual(h4);
    expect(hashes[4]).toEqual(h5);
    const err = await ref.commit(9, cs).catch((e: unknown) => e);
    expect(isStoreMigrateError(err, 'ERR_DB_IO')).toBe(true);
    expect((err as Error).message).toMatch(/ERR_CHANGESET_GAP/);
    await ref.close();

    const check = await openDb(path);
    const ms = await MultiStoreV1.open(check, { readOnly: true });
    expect(ms.latestVersion).toBe(5);
    expect((await ms.getCommitInfo(4)).appHash).toEqual(h4);
    await check.close();
  });
});

describe.runIf(process.platform === 'linux')(
  'ReferenceNode (in its worker, as the built demo runs it)',
  () => {
    it('runs at nice 19, so that it takes only the CPU the node and its migration leave', async () => {
      const path = join(tempDir('ref-nice'), 'reference.db');
      const db = await openDb(path);
      await generateSyntheticState(db, { stores: 1, keys: 200, versions: 2 });
      await db.close();
      // The worker exists only in the build (npm run build), as with the migration worker.
      const built = pathToFileURL(join(import.meta.dirname, '../../dist/demo/reference-node.js')).href;
      const { ReferenceNode: Built } = (await import(built)) as { ReferenceNode: typeof ReferenceNode };
      const before = threadNices();
      const ref = await Built.open(path);
      try {
        expect(ref.inWorker).toBe(true);
        expect(getPriority()).toBe(0);
        const added = threadNices().filter((n) => n === 19).length - before.filter((n) => n === 19).length;
        expect(added).toBe(1);
        expect(await ref.appHashes(2, 2)).toHaveLength(1);
      } finally {
        await ref.close();
      }
    });
  },
);
