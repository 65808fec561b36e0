import { join } from 'node:path';
import { iavlSpec, verifyMembership, verifyNonMembership } from '@confio/ics23';
import { describe, expect, it } from 'vitest';
import { openDb } from '../../src/db/open-db.js';
import { MutableTree } from '../../src/iavl/mutable-tree.js';
import { encodeCommitmentProof } from '../../src/iavl/proof.js';
import { decodeForVerifier } from '../helpers/ics23.js';
import { Rng, trickyKeys } from '../helpers/random.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();

describe.each(['legacy', 'node-key'] as const)(
  'ICS23 proofs (%s layout), verified by @confio/ics23',
  (layout) => {
    it('proves presence and absence of random keys against the root hash, and rejects tampering', async () => {
      const db = await openDb(join(tempDir('proof'), 'db'));
      try {
        const rng = new Rng(7);
        const keys = trickyKeys(rng, 600);
        const tree = new MutableTree(db, { layout });
        await tree.loadVersion();
        const present = keys.slice(0, 400);
        for (const k of present) tree.set(k, rng.bytes(1 + rng.int(30)));
        await tree.saveVersion();
        // A second version with removals, so proofs cover nodes of mixed versions.
        for (const k of present.slice(0, 50)) tree.remove(k);
        const { hash: root, version } = await tree.saveVersion();
        const t = tree.getImmutable(version);

        let exist = 0;
        let absent = 0;
        for (let i = 0; i < 150; i++) {
          const k = rng.pick(keys);
          const value = t.get(k);
          const proof = decodeForVerifier(encodeCommitmentProof(t.proof(k)));
          if (value !== undefined) {
            expect(proof.exist).toBeTruthy();
            expect(verifyMembership(proof, iavlSpec, root, k, value)).toBe(true);
            const tampered = value.slice();
            tampered[0] ^= 1;
            expect(verifyMembership(proof, iavlSpec, root, k, tampered)).toBe(false);
            expect(verifyNonMembership(proof, iavlSpec, root, k)).toBe(false);
            exist++;
          } else {
            expect(proof.nonexist).toBeTruthy();
            expect(verifyNonMembership(proof, iavlSpec, root, k)).toBe(true);
            expect(verifyMembership(proof, iavlSpec, root, k, new Uint8Array([1]))).toBe(false);
            absent++;
          }
        }
        expect(exist).toBeGreaterThan(20);
        expect(absent).toBeGreaterThan(20);

        // Keys before the first and after the last key have one-sided non-existence proofs.
        const sorted = [...t.iterate()].map(([k]) => k);
        const first = sorted[0];
        const below = first.length > 1 ? first.subarray(0, first.length - 1) : undefined;
        if (below && t.get(below) === undefined) {
          const p = decodeForVerifier(encodeCommitmentProof(t.proof(below)));
          expect(p.nonexist?.left).toBeFalsy();
          expect(verifyNonMembership(p, iavlSpec, root, below)).toBe(true);
        }
        const above = new Uint8Array([...sorted.at(-1)!, 0xff, 0xff, 0xff]);
        const pa = decodeForVerifier(encodeCommitmentProof(t.proof(above)));
        expect(pa.nonexist?.right).toBeFalsy();
        expect(verifyNonMembership(pa, iavlSpec, root, above)).toBe(true);

        // A proof against another root fails.
        const other = tree.getImmutable(1).hash;
        const k = sorted[sorted.length >> 1];
        const p = decodeForVerifier(encodeCommitmentProof(t.proof(k)));
        expect(verifyMembership(p, iavlSpec, other, k, t.get(k)!)).toBe(false);
      } finally {
        await db.close();
      }
    });
  },
);
