import { join } from 'node:path';
import { firstValueFrom } from 'rxjs';
import { filter } from 'rxjs/operators';
import { describe, expect, it } from 'vitest';
import { KvDb } from '../../src/db/kv-db.js';
import { openDb } from '../../src/db/open-db.js';
import { changesetKey } from '../../src/migration/changeset-buffer.js';
import { startRpcServer } from '../../src/rpc/rpc-server.js';
import { MultiStoreV1 } from '../../src/v1/multi-store-v1.js';
import { openNodeHome } from '../../src/v2/root/node-home.js';
import { RootStore } from '../../src/v2/root/root-store.js';
import { runCli } from '../helpers/run-cli.js';
import { rpc } from '../helpers/serve-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { BASE, blockAt, STORES, waitFor } from '../reliability/node-harness.js';

// A migration that failed reads `failed` with its error code everywhere an operator looks:
// migration_status and the metrics while the node runs, and `status --json` at rest.
const tempDir = useTempDirs();

describe('a node home whose migration failed', () => {
  it('says failed with the same error code in migration_status, the metrics and status --json', async () => {
    const home = join(tempDir('failed-home'), 'home');
    const v1Db = await openDb(join(home, 'application.db'));
    const ms = await MultiStoreV1.open(v1Db, { stores: STORES });
    for (let v = 1; v <= BASE; v++) await ms.commit(blockAt(v), v);
    await v1Db.close();

    const dbs = await openNodeHome(home);
    const store = await RootStore.open(dbs.v1, dbs.v2, { postponeSwitch: true });
    await waitFor(() => store.migratedVersion === BASE, 10_000, 'the restore');
    store.pause();
    await store.commit(blockAt(BASE + 1));
    await store.commit(blockAt(BASE + 2));
    await store.manager.buffer.drain();
    // The buffered changeset of the next version is corrupt: the replay must fail on it.
    await new KvDb(dbs.v2).put(changesetKey(BASE + 1), Uint8Array.of(0x05, 0xff));
    const failed = firstValueFrom(store.events$.pipe(filter((e) => e.type === 'failed')));
    store.resume();
    const event = await failed;
    if (event.type !== 'failed') throw new Error('unreachable');
    const code = event.error.code;
    expect(code).toMatch(/^ERR_/);

    const server = await startRpcServer(store, { port: 0 });
    try {
      const live = (await rpc(server.url, 'migration_status')) as { phase: string; error?: { code: string } };
      expect(live).toMatchObject({ phase: 'failed', error: { code } });
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).toMatch(/^store_migrate_phase\{phase="failed"\} 1$/m);
      expect(metrics).toContain(`store_migrate_error{code="${code}"} 1`);
    } finally {
      await server.close();
      await store.close();
      await dbs.close();
    }

    const atRest = runCli(['status', '--home', home, '--json']);
    expect(atRest.code, atRest.stderr).toBe(0);
    expect(JSON.parse(atRest.stdout)).toMatchObject({ phase: 'failed', error: { code } });
    const human = runCli(['status', '--home', home]);
    expect(human.stdout).toContain(`phase            failed`);
    expect(human.stdout).toContain(`error            ${code}: `);
  });
});
