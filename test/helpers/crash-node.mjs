// A node that commits deterministic blocks on a RootStore until it has switched and reached
// the target height. The crash test kills it with SIGKILL at random moments and restarts it.
// Usage: node crash-node.mjs <v1 dir> <v2 dir> <target height> <throttle leaves/s> [worker|worker-journal|worker-spill|main]
// worker-spill keeps none of v1's handed-over writes in memory: with a node-key v1, every one
// goes through the worker's spill (v2.handoff/). worker-journal and worker-spill open v1 and v2
// shared, as node homes do (the worker reads v1 on its own thread); worker does not.
import { openDb, RootStore } from '../../dist/index.js';
import { blockFor } from './crash-workload.mjs';

const [v1Path, v2Path, targetArg, throttleArg, threadArg] = process.argv.slice(2);
const target = Number(targetArg);
const shared = threadArg === 'worker-journal' || threadArg === 'worker-spill';
const v1 = await openDb(v1Path, { multithreading: shared });
const v2 = await openDb(v2Path, { multithreading: shared });
const rs = await RootStore.open(v1, v2, {
  throttle: Number(throttleArg),
  batchBytes: 128 * 1024,
  worker: threadArg.startsWith('worker'),
  changesetJournal: threadArg === 'worker-journal',
  handoffBytes: threadArg === 'worker-spill' ? 0 : undefined,
});
const say = (line) => process.stdout.write(`${line}\n`);
rs.events$.subscribe((e) => say(`E ${e.type} ${e.version}`));
say(`S ${rs.latestVersion} ${rs.status().phase}`);
for (;;) {
  const phase = rs.status().phase;
  if (rs.latestVersion >= target && rs.switchedAtVersion !== undefined) break;
  if (phase === 'failed') {
    say(`F ${rs.error?.code} ${rs.error?.message}`);
    process.exit(3);
  }
  const v = rs.latestVersion + 1;
  const ci = await rs.commit(blockFor(v));
  say(`C ${ci.version} ${phase} ${Buffer.from(ci.appHash).toString('hex')}`);
  await new Promise((r) => setTimeout(r, 15));
}
await rs.close();
await v1.close();
await v2.close();
say('DONE');
