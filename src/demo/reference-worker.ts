import { parentPort } from 'node:worker_threads';
import { handleReferenceRequest, type ReferenceRequest, type ReferenceStore } from './reference-node.js';

// The demo's reference v1, in its own thread: requests are handled one at a time, in order.
const state: { store?: ReferenceStore } = {};
let chain: Promise<unknown> = Promise.resolve();

parentPort?.on('message', (req: ReferenceRequest) => {
  chain = chain.then(async () => parentPort?.postMessage(await handleReferenceRequest(state, req)));
});
