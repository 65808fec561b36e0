// Embedding store-migrate in a node: open the node's stores through RootStore, commit
// blocks as usual, and let the migration run and switch over in the background.
import { type Changeset, openNodeHome, RootStore } from '../src/index.js';

export async function runNode(
  home: string,
  blocks: number,
  blockTimeMs = 0,
): Promise<{ switchedAt: number | undefined; appHash: string }> {
  const dbs = await openNodeHome(home, { create: true });
  // A new node mounts its stores; an existing one has them already.
  const store = await RootStore.open(dbs.v1, dbs.v2, { stores: ['bank', 'staking'] });
  store.events$.subscribe((e) => console.error(`migration: ${e.type} at ${e.version}`));

  let appHash = '';
  for (let height = 1; height <= blocks; height++) {
    const block: Changeset = {
      changes: [
        {
          store: 'bank',
          pairs: [
            { key: new TextEncoder().encode(`balance/${height % 7}`), value: new Uint8Array([height]) },
          ],
        },
      ],
    };
    const info = await store.commit(block); // goes to v1 or v2, whichever the node runs on
    appHash = Buffer.from(info.appHash).toString('hex');
    await new Promise((r) => setTimeout(r, blockTimeMs)); // the time between blocks
  }
  const value = await store.query('bank', new TextEncoder().encode('balance/1'), undefined, true);
  console.error(`balance/1 = ${value.value?.[0]} at ${value.height}, ${value.proof?.ops.length} proof ops`);
  const switchedAt = store.switchedAtVersion;
  await store.close();
  await dbs.close();
  return { switchedAt, appHash };
}
