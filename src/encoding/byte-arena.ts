/**
 * Short-lived byte arrays carved out of shared chunks. Encoded nodes and keys headed for a
 * write batch are small and die together, so one backing store per chunk instead of one per
 * array saves most of the allocation and garbage-collection cost. A view never changes after
 * it is handed out; a chunk is freed when its last view is. Not for long-lived data, which
 * would keep a whole chunk alive.
 */
const CHUNK = 256 * 1024;
const LARGE = 16 * 1024;

let chunk = new Uint8Array(CHUNK);
let used = 0;

export function arenaAlloc(n: number): Uint8Array {
  if (n > LARGE) return new Uint8Array(n);
  if (used + n > CHUNK) {
    chunk = new Uint8Array(CHUNK);
    used = 0;
  }
  const out = chunk.subarray(used, used + n);
  used += n;
  return out;
}
