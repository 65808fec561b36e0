import { parentPort, workerData } from 'node:worker_threads';
import { lowerThreadPriority } from '../worker/thread-priority.js';
import { handleReferenceRequest, type ReferenceRequest, type ReferenceStore } from './reference-node.js';

// The demo's reference v1, in its own thread: requests are handled one at a time, in order.
const state: { store?: ReferenceStore } = {};
let chain: Promise<unknown> = Promise.resolve();
// Why this thread's priority could not be lowered, told with the answer to 'open'.
const niceError = lowerThreadPriority((workerData as { nice?: number } | undefined)?.nice ?? 0);

parentPort?.on('message', (req: ReferenceRequest) => {
  chain = chain.then(async () => {
    const res = await handleReferenceRequest(state, req);
    if (req.op === 'open' && res.ok && niceError) res.warning = niceError.message;
    parentPort?.postMessage(res);
  });
});
