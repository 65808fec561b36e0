import fc from 'fast-check';
import { MemoryLevel } from 'memory-level';
import { describe, expect, it } from 'vitest';
import { type Changeset, decodeChangeset, encodeChangeset } from '../../src/encoding/changeset.js';
import { StoreMigrateError } from '../../src/errors.js';
import { decodeImporterState, encodeImporterState, type ImporterState } from '../../src/iavl/importer.js';
import { MutableTree } from '../../src/iavl/mutable-tree.js';
import { Node } from '../../src/iavl/node.js';
import {
  decodeLegacyNode,
  decodeNodeKeyNode,
  encodeLegacyNode,
  encodeNodeKeyNode,
  nodeKeyBytes,
} from '../../src/iavl/node-codec.js';
import type { TreeLayout } from '../../src/iavl/node-db.js';
import { innerHash, leafHash } from '../../src/iavl/node-hash.js';
import {
  decodeSnapshotItem,
  encodeSnapshotItem,
  type SnapshotItem,
} from '../../src/snapshots/snapshot-item.js';
import { entriesHex, Model } from '../helpers/model.js';

/**
 * Property tests with fast-check. CI runs a short budget; `FUZZ_RUNS=20000 npx vitest run
 * test/reliability/fuzz.test.ts` runs a long one (FUZZ_SEED replays a run).
 *
 * (a) Decoders: any input decodes or raises a StoreMigrateError, never anything else, and
 *     quickly. Inputs are random bytes and mutations of valid encodings (which reach far deeper
 *     into the parsers than random bytes do).
 * (b) Trees: random set/remove/get/saveVersion sequences on MutableTree in both layouts agree
 *     with a Map model, and both layouts hash alike at every step.
 */

const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const LONG = RUNS > 1000;
// A decode that takes this long on inputs of a few hundred bytes is a hang in the making.
const MAX_DECODE_MS = 250;
const params = (runs: number): fc.Parameters<unknown> => ({
  numRuns: runs,
  ...(SEED === undefined ? {} : { seed: SEED }),
});

// --- arbitraries of valid encodings -----------------------------------------------------------

const bytes = (max: number, min = 0) => fc.uint8Array({ minLength: min, maxLength: max });
const hash32 = bytes(32, 32);
const version = fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 2 ** 40 }));

const legacyNode: fc.Arbitrary<{ hash: Uint8Array; buf: Uint8Array }> = fc.oneof(
  fc.record({ key: bytes(12), value: bytes(24), version }).map(({ key, value, version }) => ({
    hash: leafHash(key, value, version),
    buf: encodeLegacyNode(Node.leaf(key, value, version)),
  })),
  fc
    .record({
      key: bytes(12),
      version,
      height: fc.integer({ min: 1, max: 127 }),
      size: fc.integer({ min: 2, max: 1e6 }),
      l: hash32,
      r: hash32,
    })
    .map(({ key, version, height, size, l, r }) => {
      const n = new Node(key, undefined, version, height, size);
      n.leftRef = l;
      n.rightRef = r;
      return { hash: innerHash(height, size, version, l, r), buf: encodeLegacyNode(n) };
    }),
);

const childRef = fc.oneof(
  hash32,
  fc.tuple(fc.integer({ min: 0, max: 2 ** 40 }), fc.nat()).map(([v, n]) => nodeKeyBytes(v, n)),
);
const nodeKeyNode: fc.Arbitrary<{ nodeKey: Uint8Array; buf: Uint8Array }> = fc.oneof(
  fc.record({ key: bytes(12), value: bytes(24), version }).map(({ key, value, version }) => ({
    nodeKey: nodeKeyBytes(version, 1),
    buf: encodeNodeKeyNode(Node.leaf(key, value, version)),
  })),
  fc
    .record({
      key: bytes(12),
      version,
      height: fc.integer({ min: 1, max: 127 }),
      size: fc.integer({ min: 2, max: 1e6 }),
      h: hash32,
      l: childRef,
      r: childRef,
    })
    .map(({ key, version, height, size, h, l, r }) => {
      const n = new Node(key, undefined, version, height, size);
      n.hash = h;
      n.leftRef = l;
      n.rightRef = r;
      return { nodeKey: nodeKeyBytes(version, 2), buf: encodeNodeKeyNode(n) };
    }),
);

const changeset: fc.Arbitrary<Changeset> = fc.record({
  changes: fc.array(
    fc.record({
      store: fc.string({ maxLength: 8 }),
      pairs: fc.array(
        fc.oneof(
          fc.record({ key: bytes(8), value: bytes(16) }),
          fc.record({ key: bytes(8), remove: fc.constant(true) }),
        ),
        { maxLength: 5 },
      ),
    }),
    { maxLength: 4 },
  ),
});

const snapshotItem: fc.Arbitrary<SnapshotItem> = fc.oneof(
  fc.record({ kind: fc.constant('store' as const), name: fc.string({ maxLength: 10 }) }),
  fc.record({
    kind: fc.constant('iavl' as const),
    key: bytes(12),
    value: bytes(16),
    version: fc.integer({ min: 0, max: 2 ** 40 }),
    height: fc.constant(0),
  }),
  fc.record({
    kind: fc.constant('iavl' as const),
    key: bytes(12),
    value: fc.constant(undefined),
    version: fc.integer({ min: 0, max: 2 ** 40 }),
    height: fc.integer({ min: 1, max: 127 }),
  }),
);

const importerState: fc.Arbitrary<ImporterState> = fc.record({
  count: fc.nat(),
  lastLeaf: fc.option(bytes(8), { nil: undefined }),
  stack: fc.array(
    fc.record({
      ref: fc.oneof(hash32, bytes(12, 12)),
      hash: hash32,
      height: fc.nat(127),
      size: fc.nat(),
      min: bytes(8),
    }),
    { maxLength: 6 },
  ),
});

/** Damages a valid encoding: flips, overwrites, cuts, inserts and duplicates bytes. */
function mutated(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  const edit = fc.tuple(
    fc.constantFrom('flip', 'set', 'cut', 'insert', 'dup', 'varint'),
    fc.nat(),
    fc.nat(255),
  );
  return fc.tuple(valid, fc.array(edit, { minLength: 1, maxLength: 4 })).map(([b, edits]) => {
    let out = Array.from(b);
    for (const [op, at, byte] of edits) {
      const i = out.length === 0 ? 0 : at % out.length;
      if (op === 'flip' && out.length > 0) out[i] ^= 1 << (byte % 8);
      else if (op === 'set' && out.length > 0) out[i] = byte;
      else if (op === 'cut') out = out.slice(0, i);
      else if (op === 'insert') out.splice(i, 0, byte);
      else if (op === 'dup') out = out.concat(out.slice(i));
      // A long run of continuation bytes: over-long and overflowing varints.
      else if (op === 'varint') out.splice(i, 0, ...Array.from({ length: 1 + (byte % 12) }, () => 0xff));
    }
    return Uint8Array.from(out);
  });
}

/** Random bytes, or a damaged valid encoding. */
const input = (valid: fc.Arbitrary<Uint8Array>) => fc.oneof(bytes(64), mutated(valid));

let figures: Array<{ name: string; runs: number; ms: number }> = [];

/** Asserts that `decode` either returns or throws a StoreMigrateError, within MAX_DECODE_MS. */
function decodesOrTypedError<T>(name: string, arb: fc.Arbitrary<T>, decode: (x: T) => unknown): void {
  const t0 = performance.now();
  fc.assert(
    fc.property(arb, (x) => {
      const s = performance.now();
      try {
        decode(x);
      } catch (err) {
        if (!(err instanceof StoreMigrateError)) throw err;
        expect(err.code).toMatch(/^ERR_[A-Z_]+$/);
      }
      expect(performance.now() - s).toBeLessThan(MAX_DECODE_MS);
    }),
    params(RUNS),
  );
  figures.push({ name, runs: RUNS, ms: Math.round(performance.now() - t0) });
}

describe(`fuzzing the decoders (${RUNS} runs each)`, () => {
  it('decodeLegacyNode: decodes or raises a StoreMigrateError', () => {
    decodesOrTypedError(
      'decodeLegacyNode',
      fc.tuple(
        fc.oneof(
          hash32,
          legacyNode.map((n) => n.hash),
        ),
        input(legacyNode.map((n) => n.buf)),
        fc.boolean(),
      ),
      ([hash, buf, verify]) => decodeLegacyNode(hash, buf, verify),
    );
  });

  it('decodeNodeKeyNode: decodes or raises a StoreMigrateError', () => {
    decodesOrTypedError(
      'decodeNodeKeyNode',
      fc.tuple(
        fc.oneof(
          bytes(12, 12),
          nodeKeyNode.map((n) => n.nodeKey),
        ),
        input(nodeKeyNode.map((n) => n.buf)),
      ),
      ([nodeKey, buf]) => decodeNodeKeyNode(nodeKey, buf),
    );
  });

  it('decodeChangeset: decodes or raises a StoreMigrateError', () => {
    decodesOrTypedError('decodeChangeset', input(changeset.map(encodeChangeset)), decodeChangeset);
  });

  it('decodeSnapshotItem: decodes or raises a StoreMigrateError', () => {
    decodesOrTypedError(
      'decodeSnapshotItem',
      input(snapshotItem.map(encodeSnapshotItem)),
      decodeSnapshotItem,
    );
  });

  it('decodeImporterState: decodes or raises a StoreMigrateError', () => {
    decodesOrTypedError(
      'decodeImporterState',
      input(importerState.map(encodeImporterState)),
      decodeImporterState,
    );
  });

  it('valid encodings round-trip (the mutation seeds are real encodings)', () => {
    fc.assert(
      fc.property(changeset, (cs) => {
        const back = decodeChangeset(encodeChangeset(cs));
        expect(encodeChangeset(back)).toEqual(encodeChangeset(cs));
      }),
      params(Math.min(RUNS, 500)),
    );
    fc.assert(
      fc.property(legacyNode, ({ hash, buf }) => {
        expect(decodeLegacyNode(hash, buf).hash).toEqual(hash);
      }),
      params(Math.min(RUNS, 500)),
    );
    fc.assert(
      fc.property(nodeKeyNode, ({ nodeKey, buf }) => {
        expect(encodeNodeKeyNode(decodeNodeKeyNode(nodeKey, buf))).toEqual(buf);
      }),
      params(Math.min(RUNS, 500)),
    );
    fc.assert(
      fc.property(importerState, (s) => {
        expect(decodeImporterState(encodeImporterState(s))).toEqual(s);
      }),
      params(Math.min(RUNS, 500)),
    );
  });
});

// --- trees against a model ---------------------------------------------------------------------

type Op =
  | { t: 'set'; k: Uint8Array; v: Uint8Array }
  | { t: 'remove'; k: Uint8Array }
  | { t: 'get'; k: Uint8Array }
  | { t: 'save' };

// Keys over a tiny alphabet (0x00, 0x01, 0x7f, 0xff) collide, nest as prefixes and hit both ends.
const key = fc
  .array(fc.constantFrom(0x00, 0x01, 0x7f, 0xff), { minLength: 1, maxLength: 3 })
  .map((a) => Uint8Array.from(a));
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant('set' as const), k: key, v: bytes(6) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('remove' as const), k: key }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('get' as const), k: key }) },
  { weight: 1, arbitrary: fc.constant({ t: 'save' as const }) },
);
const LAYOUTS: TreeLayout[] = ['legacy', 'node-key'];
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

async function newTrees(): Promise<Array<{ db: MemoryLevel<Uint8Array, Uint8Array>; tree: MutableTree }>> {
  return Promise.all(
    LAYOUTS.map(async (layout) => {
      const db = new MemoryLevel<Uint8Array, Uint8Array>({ keyEncoding: 'view', valueEncoding: 'view' });
      const tree = new MutableTree(db, { layout, cacheBytes: 64 * 1024 });
      await tree.loadVersion();
      return { db, tree };
    }),
  );
}

describe(`fuzzing MutableTree against a model (${RUNS} runs, both layouts)`, () => {
  it('set/remove/get/saveVersion agree with a Map; both layouts hash alike; every saved version reads back', async () => {
    const runs = RUNS;
    const t0 = performance.now();
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: LONG ? 200 : 60 }), async (ops) => {
        const trees = await newTrees();
        const model = new Model();
        const saved: Model[] = [];
        try {
          for (const o of [...ops, { t: 'save' } as Op]) {
            if (o.t === 'set') {
              const had = model.get(o.k) !== undefined;
              for (const { tree } of trees) expect(tree.set(o.k, o.v)).toBe(had);
              model.set(o.k, o.v);
            } else if (o.t === 'remove') {
              const old = model.get(o.k);
              for (const { tree } of trees) expect(tree.remove(o.k)).toEqual(old);
              model.remove(o.k);
            } else if (o.t === 'get') {
              for (const { tree } of trees) expect(tree.get(o.k)).toEqual(model.get(o.k));
            } else {
              const hashes = [];
              for (const { tree } of trees) hashes.push(hex((await tree.saveVersion()).hash));
              expect(hashes[1]).toBe(hashes[0]);
              saved.push(model.clone());
            }
            expect(hex(trees[1].tree.workingHash())).toBe(hex(trees[0].tree.workingHash()));
          }
          // Cold trees over the same databases: every saved version is there, as the model had it.
          for (const { db, tree } of trees) {
            const cold = new MutableTree(db, { layout: tree.layout });
            expect(await cold.loadVersion()).toBe(saved.length);
            for (let v = 1; v <= saved.length; v++) {
              const t = cold.getImmutable(v);
              expect(entriesHex(t.iterate())).toEqual(entriesHex(saved[v - 1].range()));
              expect(hex(t.hash)).toBe(hex(trees[0].tree.getImmutable(v).hash));
            }
          }
        } finally {
          for (const { db } of trees) await db.close();
        }
      }),
      params(runs),
    );
    figures.push({ name: 'MutableTree model', runs, ms: Math.round(performance.now() - t0) });
  });

  it('reports the figures', () => {
    const total = figures.reduce((a, f) => a + f.ms, 0);
    // Printed for the long run's report; silent enough for CI.
    process.stdout.write(
      `fuzz figures (seed ${SEED ?? 'random'}): ${figures.map((f) => `${f.name} ${f.runs} runs ${f.ms} ms`).join('; ')}; total ${total} ms\n`,
    );
    figures = [];
  });
});
