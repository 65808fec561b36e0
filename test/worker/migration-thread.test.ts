import { getPriority } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDb } from '../../src/db/open-db.js';
import { RootStore } from '../../src/v2/root/root-store.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { threadNices } from '../helpers/thread-nices.js';
import { buildV1 } from '../helpers/v1-builder.js';
import { waitFor } from '../helpers/wait-for.js';

const tempDir = useTempDirs();

describe.runIf(process.platform === 'linux')('MigrationThread: CPU priority', () => {
  it.each([
    { workerNice: 10, expected: 10 },
    { workerNice: 5, expected: 5 },
    { workerNice: undefined, expected: undefined },
  ])(
    'workerNice $workerNice: the worker thread runs at nice $expected, the node thread stays at its own',
    async ({ workerNice, expected }) => {
      const dir = tempDir('nice');
      const v1Db = await openDb(join(dir, 'application.db'));
      await buildV1(v1Db, { stores: ['acc'], keysPerStore: 3000, versions: 3 });
      const v2Db = await openDb(join(dir, 'v2'));
      const before = getPriority();
      const rs = await RootStore.open(v1Db, v2Db, { worker: true, throttle: 1000, workerNice });
      try {
        await waitFor(() => (rs.status().progress.leavesDone ?? 0) > 0, 20_000);
        expect(getPriority()).toBe(before);
        const nices = threadNices();
        if (expected === undefined) expect(nices.filter((n) => n !== before)).toEqual([]);
        else expect(nices.filter((n) => n === expected)).toHaveLength(1);
      } finally {
        await rs.close();
        await v1Db.close();
        await v2Db.close();
      }
    },
  );
});
