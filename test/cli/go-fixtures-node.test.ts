import { createHash } from 'node:crypto';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { iavlSpec, tendermintSpec, verifyMembership, verifyNonMembership } from '@confio/ics23';
import { describe, expect, it } from 'vitest';
import { KvDb } from '../../src/db/kv-db.js';
import { openDb } from '../../src/db/open-db.js';
import { fromHex, utf8 } from '../../src/encoding/bytes.js';
import { encodeUvarint } from '../../src/encoding/varint.js';
import { V2Keys } from '../../src/v2/home/v2-keys.js';
import { StateStorage } from '../../src/v2/storage/state-storage.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { expectDigest, type GoReport, readGoReport } from '../helpers/go-reference.js';
import { decodeForVerifier } from '../helpers/ics23.js';
import { runCli } from '../helpers/run-cli.js';
import { rpc, serve } from '../helpers/serve-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';

// A node home made from each Go-written application.db: migrate with history, verify, answer
// history queries with Go's values, and serve proofs that check against Go's app hashes.
const tempDir = useTempDirs();
const EMPTY_TREE = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const NAMES = ['v045', 'v045-pruned', 'v047', 'v050', 'v050-pruned', 'upgraded'];

/** The heights `--history 20` carries: the run of readable heights that ends at the latest, at most 20. */
function historyWindow(go: GoReport): number[] {
  const readable = new Set(go.queryable);
  const stores = (h: number) =>
    go.heights
      .find((x) => x.height === h)!
      .stores.map((s) => s.name)
      .sort()
      .join();
  const out = [go.latestVersion];
  for (
    let h = go.latestVersion - 1;
    out.length < 20 && readable.has(h) && stores(h) === stores(go.latestVersion);
    h--
  ) {
    out.unshift(h);
  }
  return out;
}

/** Up to three keys per store that the workload wrote, from the fixture's changesets. */
function keysOf(name: string): Map<string, Uint8Array[]> {
  const out = new Map<string, Uint8Array[]>();
  for (const line of readFileSync(join(FIXTURES, 'go', name, 'changesets.jsonl'), 'utf8').split('\n')) {
    if (line.length === 0) continue;
    for (const c of (JSON.parse(line) as { changes: Array<{ store: string; key: string }> }).changes) {
      const keys = out.get(c.store) ?? [];
      if (keys.length < 3) keys.push(fromHex(c.key));
      out.set(c.store, keys);
    }
  }
  return out;
}

async function ssDigest(ss: StateStorage, store: string, height: number) {
  const h = createHash('sha256');
  let keys = 0;
  for await (const [k, v] of ss.iterate(store, height)) {
    h.update(encodeUvarint(k.length)).update(k).update(encodeUvarint(v.length)).update(v);
    keys++;
  }
  return { keys, sha256: h.digest('hex') };
}

describe.each(NAMES)('a node home made from the Go fixture %s', (name) => {
  it('migrates with --history 20, verifies ok with Go app hash, and answers the history with Go values', async () => {
    const go = readGoReport(join(FIXTURES, 'go', name, 'expected.json'));
    const home = join(tempDir('go-home'), 'home');
    cpSync(join(FIXTURES, 'go', name, 'application.db'), join(home, 'application.db'), { recursive: true });
    const v1 = join(home, 'application.db');
    const v2 = join(home, 'v2');
    const last = go.heights.at(-1)!;

    // inspect --version h: Go's app hash and roots at a readable height, ERR_VERSION_PRUNED at a pruned one.
    const mid = go.queryable[Math.floor(go.queryable.length / 2)];
    const at = JSON.parse(runCli(['inspect', '--v1', v1, '--version', String(mid), '--json']).stdout);
    const want = go.heights.find((h) => h.height === mid)!;
    expect(at.appHash).toBe(want.appHash);
    expect(
      Object.fromEntries(at.stores.map((s: { name: string; rootHash: string }) => [s.name, s.rootHash])),
    ).toEqual(Object.fromEntries(want.stores.map((s) => [s.name, s.rootHash])));
    const pruned = go.heights.find((h) => !h.queryable);
    if (pruned !== undefined) {
      const r = runCli(['inspect', '--v1', v1, '--version', String(pruned.height), '--json']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^ERR_VERSION_PRUNED: version \d+ was pruned: its commit info remains/);
    }

    const m = runCli(['migrate', '--v1', v1, '--v2', v2, '--history', '20', '--json', '--no-progress']);
    expect(m.stderr).toBe('');
    expect(m.code).toBe(0);
    expect(JSON.parse(m.stdout)).toMatchObject({ version: go.latestVersion, appHash: last.appHash });
    const v = runCli(['verify', '--v1', v1, '--v2', v2, '--json', '--no-progress']);
    expect(v.code, v.stderr).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({
      ok: true,
      appHashV1: last.appHash,
      appHashV2: last.appHash,
    });

    const window = historyWindow(go);
    const db = await openDb(v2, { createIfMissing: false });
    try {
      const ss = await StateStorage.open(new KvDb(db), { prefix: V2Keys.ssPrefix });
      expect([ss.earliestVersion, ss.latestVersion]).toEqual([window[0], go.latestVersion]);
      for (const h of window) {
        for (const [store, digest] of Object.entries(go.contents![h])) {
          expectDigest(await ssDigest(ss, store, h), digest, h, store);
        }
      }
    } finally {
      await db.close();
    }
  });

  it('serves queries with proofs at 5 heights that verify against Go app hash of each', async () => {
    const go = readGoReport(join(FIXTURES, 'go', name, 'expected.json'));
    const home = join(tempDir('go-serve'), 'home');
    cpSync(join(FIXTURES, 'go', name, 'application.db'), join(home, 'application.db'), { recursive: true });
    const q = go.queryable;
    const heights = [...new Set([0, 0.25, 0.5, 0.75, 1].map((f) => q[Math.round(f * (q.length - 1))]))];
    const keys = keysOf(name);
    const s = await serve(['--home', home, '--port', '0']);
    let proofs = 0;
    for (const height of heights) {
      const want = go.heights.find((h) => h.height === height)!;
      const ci = (await rpc(s.url, 'commit_info', { height })) as { appHash: string };
      expect(ci.appHash).toBe(want.appHash);
      for (const st of want.stores.filter((x) => x.rootHash !== '')) {
        for (const key of keys.get(st.name) ?? []) {
          const r = (await rpc(s.url, 'query', {
            store: st.name,
            key: Buffer.from(key).toString('hex'),
            height,
            prove: true,
          })) as {
            value: string | null;
            proof: { ops: Array<{ data: string }> };
          };
          const [iavlOp, simpleOp] = r.proof.ops;
          const root = fromHex(st.rootHash);
          expect(
            verifyMembership(
              decodeForVerifier(fromHex(simpleOp.data)),
              tendermintSpec,
              fromHex(want.appHash),
              utf8(st.name),
              root,
            ),
          ).toBe(true);
          const keyProof = decodeForVerifier(fromHex(iavlOp.data));
          if (st.rootHash === EMPTY_TREE) {
            // An empty tree has no neighbours to prove absence with (as in Go iavl): its root is the evidence.
            expect(r.value).toBeNull();
            continue;
          }
          if (r.value === null) expect(verifyNonMembership(keyProof, iavlSpec, root, key)).toBe(true);
          else expect(verifyMembership(keyProof, iavlSpec, root, key, fromHex(r.value))).toBe(true);
          proofs++;
        }
      }
    }
    expect(heights).toHaveLength(Math.min(5, q.length));
    expect(proofs).toBeGreaterThan(20);
    s.child.kill('SIGTERM');
    expect(await s.exit).toBe(0);
  });
});
