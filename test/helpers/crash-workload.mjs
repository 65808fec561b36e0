// Deterministic blocks for the crash tests: the changeset of a version depends only on the
// version, so a node killed and restarted any number of times commits the same chain as the
// reference. Plain JavaScript, because the crashing child process runs it without a compiler.

import { SeededRandom } from '../../dist/workload/seeded-random.js';

export const STORES = ['acc', 'bank', 'staking'];
export const KEYS_PER_STORE = 2000;

// The project's one seeded PRNG (src/workload/seeded-random.ts), from the build.
function rng(seed) {
  const r = new SeededRandom(seed);
  return () => r.float();
}

const enc = new TextEncoder();

export function keyOf(i) {
  return enc.encode(`key/${String(i).padStart(7, '0')}`);
}

function bytes(r, n) {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

/** The changeset of `version`: the full initial state at 1, random blocks after. */
export function blockFor(version) {
  const r = rng(version * 7919 + 17);
  if (version === 1) {
    return {
      changes: STORES.map((store) => ({
        store,
        pairs: Array.from({ length: KEYS_PER_STORE }, (_, i) => ({
          key: keyOf(i),
          value: bytes(r, 8 + Math.floor(r() * 100)),
        })),
      })),
    };
  }
  return {
    changes: STORES.map((store) => ({
      store,
      pairs: Array.from({ length: 10 }, () => {
        const key = keyOf(Math.floor(r() * KEYS_PER_STORE * 1.2));
        return r() < 0.2 ? { key, remove: true } : { key, value: bytes(r, 1 + Math.floor(r() * 60)) };
      }),
    })),
  };
}
