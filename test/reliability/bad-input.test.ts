import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { MemoryLevel } from 'memory-level';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KvDb } from '../../src/db/kv-db.js';
import { openDb } from '../../src/db/open-db.js';
import { u64be } from '../../src/encoding/byte-writer.js';
import { fromHex, utf8 } from '../../src/encoding/bytes.js';
import { type Changeset, decodeChangeset, encodeChangeset } from '../../src/encoding/changeset.js';
import { StoreMigrateError } from '../../src/errors.js';
import { decodeImporterState } from '../../src/iavl/importer.js';
import { decodeLegacyNode, decodeNodeKeyNode } from '../../src/iavl/node-codec.js';
import { ChangesetBuffer, changesetKey } from '../../src/migration/changeset-buffer.js';
import { startRpcServer } from '../../src/rpc/rpc-server.js';
import { decodeSnapshotItem, type SnapshotItem } from '../../src/snapshots/snapshot-item.js';
import { SnapshotsManager } from '../../src/snapshots/snapshots-manager.js';
import { MigrationStream } from '../../src/stream/migration-stream.js';
import { MultiStoreV1 } from '../../src/v1/multi-store-v1.js';
import { StateCommitment } from '../../src/v2/commitment/state-commitment.js';
import { RootStore } from '../../src/v2/root/root-store.js';
import { StateStorage } from '../../src/v2/storage/state-storage.js';
import { dumpDb } from '../helpers/db-dump.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { CLI_BIN } from '../helpers/run-cli.js';
import {
  BASE,
  blockAt,
  buildTemplate,
  keyOf,
  NodeHarness,
  rejectionOf,
  removeTemplate,
  STORES,
  waitFor,
} from './node-harness.js';

/**
 * The bad-input corpus (test/fixtures/bad): every case names its input, the error code it
 * must stop with, and what it proves. Each runs in its own `it` within 5 s; where a node is
 * involved, nothing switches and v1 is not written.
 */

interface Case {
  name: string;
  runner: string;
  input: string;
  code: string;
  proves: string;
  args?: Record<string, string | number>;
  /**
   * A known, reported issue: the code the case gets today, until `issue` is fixed. The test
   * asserts it, so that the fix makes the case fail until this field is removed.
   */
  currentCode?: string;
  issue?: string;
}

const BAD = new URL('../fixtures/bad/', import.meta.url).pathname;
const manifest: Case[] = JSON.parse(readFileSync(join(BAD, 'manifest.json'), 'utf8'));

function readHex(file: string): Uint8Array {
  const text = readFileSync(join(BAD, file), 'utf8')
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('#'))
    .join('')
    .replace(/\s+/g, '');
  if (!/^([0-9a-f]{2})*$/.test(text)) throw new Error(`${file} is not lowercase hex`);
  return Uint8Array.from(Buffer.from(text, 'hex'));
}

function hexArg(c: Case, name: string): Uint8Array {
  return Uint8Array.from(Buffer.from(String(c.args?.[name]), 'hex'));
}

function readStream(file: string): SnapshotItem[] {
  return readFileSync(join(BAD, file), 'utf8')
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l) => {
      const o = JSON.parse(l) as {
        store?: string;
        key?: string;
        value?: string;
        version?: number;
        height?: number;
      };
      if (o.store !== undefined) return { kind: 'store', name: o.store };
      return {
        kind: 'iavl',
        key: Uint8Array.from(Buffer.from(o.key ?? '', 'hex')),
        value: o.value === undefined ? undefined : Uint8Array.from(Buffer.from(o.value, 'hex')),
        version: o.version ?? 0,
        height: o.height ?? 0,
      };
    });
}

/** The code of what `fn` threw: a StoreMigrateError's code, 'OK' when nothing was thrown. */
async function codeOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof StoreMigrateError) return err.code;
    throw err;
  }
  return 'OK';
}

let template: string;
let otherChain: string;
let exported: SnapshotItem[];

beforeAll(async () => {
  template = await buildTemplate();
  // The same chain up to BASE - 1, another block at BASE: another app hash at the migration height.
  otherChain = await buildTemplate(BASE, (v) => (v === BASE ? blockAt(BASE + 1000) : blockAt(v)));
  cpSync(template, join(template, '..', 'export-copy.db'), { recursive: true });
  const src = await openDb(join(template, '..', 'export-copy.db'));
  const ms = await MultiStoreV1.open(src, { readOnly: true });
  exported = [];
  for (const store of ms.storeNames()) {
    exported.push({ kind: 'store', name: store });
    for (const n of (await ms.immutable(store, BASE)).export())
      exported.push({ kind: 'iavl', key: n.key, value: n.value, version: n.version, height: n.height });
  }
  await src.close();
}, 30_000);

afterAll(() => {
  removeTemplate(template);
  removeTemplate(otherChain);
});

/** A StateCommitment restore into a fresh in-memory database; nothing may be committed on error. */
async function restoreCode(items: SnapshotItem[], height: number): Promise<string> {
  const db = new MemoryLevel<Uint8Array, Uint8Array>({ keyEncoding: 'view', valueEncoding: 'view' });
  const sc = await StateCommitment.open(db);
  const code = await codeOf(() => sc.restore(height, items));
  if (code !== 'OK') expect(sc.latestVersion).toBe(0);
  else expect(sc.latestVersion).toBe(height);
  await db.close();
  return code;
}

/** Runs `fn` on a node home (a copy of the template): afterwards nothing switched and v1 holds what it held. */
async function onNode(
  fn: (h: NodeHarness) => Promise<string>,
  options: { v1Changes?: boolean } = {},
): Promise<string> {
  const h = await NodeHarness.create(template);
  try {
    const before = await dumpDb(h.v1);
    const code = await fn(h);
    if (!options.v1Changes) expect(await dumpDb(h.v1)).toEqual(before);
    expect(h.rs?.switchedAtVersion).toBeUndefined();
    expect(h.events.some((e) => e.type === 'switched')).toBe(false);
    expect(await h.switchedRecord()).toBeUndefined();
    return code;
  } finally {
    await h.dispose();
  }
}

/** The legacy leaf reached by always going left from the root of `store` at BASE: its database key. */
async function leftmostLeafKey(h: NodeHarness, store: string): Promise<Uint8Array> {
  const ms = await MultiStoreV1.open(h.v1, { readOnly: true });
  const tree = ms.tree(store);
  let n = tree.getImmutable(BASE).root!;
  while (n.height > 0) n = tree.ndb.left(n);
  return Uint8Array.from([...utf8(`s/k:${store}/n`), ...n.ref!]);
}

/** Starts the node with the switch postponed and returns the code of the failed migration. */
async function migrationFailure(h: NodeHarness): Promise<string> {
  await h.start({ postponeSwitch: true });
  const err = await h.waitFailed();
  h.rs.releaseSwitch();
  await new Promise((r) => setTimeout(r, 20));
  return err.code;
}

function runCli(args: string[]): { status: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, [CLI_BIN, ...args, '--json', '--no-progress'], {
    encoding: 'utf8',
    timeout: 4000,
  });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

/** The code a failed CLI run printed: the first stderr line starts with it; the exit code is 1. */
function cliCode(r: { status: number | null; stderr: string }): string {
  expect(r.status, r.stderr).toBe(1);
  const first = r.stderr.trim().split('\n')[0] ?? '';
  expect(first).toMatch(/^ERR_[A-Z_]+: /);
  return first.slice(0, first.indexOf(':'));
}

async function dumpPath(path: string): Promise<string[]> {
  const db = await openDb(path, { createIfMissing: false });
  try {
    return await dumpDb(db);
  } finally {
    await db.close();
  }
}

function tempCopy(): { dir: string; v1: string } {
  const dir = mkdtempSync(join(tmpdir(), 'rel-bad-'));
  const v1 = join(dir, 'application.db');
  cpSync(template, v1, { recursive: true });
  return { dir, v1 };
}

const someBlock = (): Changeset => blockAt(BASE + 1);

const generators: Record<string, (c: Case) => Promise<string>> = {
  'export-truncated': () => restoreCode(exported.slice(0, -3), BASE),
  'export-reordered': () => {
    const items = exported.slice();
    const i = items.findIndex((x, j) => x.kind === 'iavl' && x.height === 0 && items[j + 1]?.kind === 'iavl');
    const j = items.findIndex((x, k) => k > i && x.kind === 'iavl' && x.height === 0);
    [items[i], items[j]] = [items[j], items[i]];
    return restoreCode(items, BASE);
  },
  'v1-corrupt-node-bytes': () =>
    onNode(
      async (h) => {
        const k = await leftmostLeafKey(h, 'acc');
        const kv = new KvDb(h.v1);
        const v = (await kv.get(k))!;
        await kv.put(k, v.subarray(0, v.length - 2));
        return migrationFailure(h);
      },
      { v1Changes: true },
    ),
  'v1-hash-mismatch': () =>
    onNode(
      async (h) => {
        const k = await leftmostLeafKey(h, 'bank');
        const kv = new KvDb(h.v1);
        const v = (await kv.get(k))!.slice();
        v[v.length - 1] ^= 0x01;
        await kv.put(k, v);
        return migrationFailure(h);
      },
      { v1Changes: true },
    ),
  'v1-missing-child': () =>
    onNode(
      async (h) => {
        await new KvDb(h.v1).del(await leftmostLeafKey(h, 'acc'));
        return migrationFailure(h);
      },
      { v1Changes: true },
    ),
  'v1-corrupt-latest': () =>
    onNode(
      async (h) => {
        await new KvDb(h.v1).put(utf8('s/latest'), Uint8Array.of(0xff, 0xff));
        const before = await dumpDb(h.v1);
        const code = await codeOf(() => h.start());
        expect(await dumpDb(h.v1)).toEqual(before);
        return code;
      },
      { v1Changes: true },
    ),
  'v1-not-a-store': async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rel-bad-'));
    const [v1, v2] = [await openDb(join(dir, 'v1')), await openDb(join(dir, 'v2'))];
    try {
      await new KvDb(v1).put(utf8('zzz/some-app-data'), utf8('x'));
      const before = await dumpDb(v1);
      const code = await codeOf(() => RootStore.open(v1, v2, { stores: STORES }));
      expect(await dumpDb(v1)).toEqual(before);
      expect(await dumpDb(v2)).toEqual([]);
      return code;
    } finally {
      await v1.close();
      await v2.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
  'commit-unknown-store': () =>
    onNode(async (h) => {
      await h.start({ postponeSwitch: true });
      const code = await codeOf(() =>
        h.rs.commit({ changes: [{ store: 'nope', pairs: [{ key: keyOf(1), value: utf8('x') }] }] }),
      );
      await h.rs.manager.buffer.drain();
      expect(await h.rs.manager.buffer.read(BASE + 1)).toBeUndefined();
      expect(h.rs.latestVersion).toBe(BASE);
      return code;
    }),
  'commit-empty-key': () =>
    onNode(async (h) => {
      await h.start({ postponeSwitch: true });
      const code = await codeOf(() =>
        h.rs.commit({ changes: [{ store: 'acc', pairs: [{ key: new Uint8Array(0), value: utf8('x') }] }] }),
      );
      await h.rs.manager.buffer.drain();
      expect(await h.rs.manager.buffer.read(BASE + 1)).toBeUndefined();
      return code;
    }),
  'v1-commit-version-gap': () =>
    onNode(async (h) => {
      const ms = await MultiStoreV1.open(h.v1);
      return codeOf(() => ms.commit(someBlock(), BASE + 2));
    }),
  'v1-commit-duplicate-version': () =>
    onNode(async (h) => {
      const ms = await MultiStoreV1.open(h.v1);
      return codeOf(() => ms.commit(someBlock(), BASE));
    }),
  'buffer-version-gap': async () => {
    const buffer = new ChangesetBuffer(
      new KvDb(new MemoryLevel({ keyEncoding: 'view', valueEncoding: 'view' })),
    );
    await buffer.open();
    await buffer.write({ version: 1, changeset: blockAt(2) });
    const code = await codeOf(() => buffer.write({ version: 3, changeset: blockAt(3) }));
    expect(buffer.last).toBe(1);
    return code;
  },
  'buffer-duplicate-conflict': async () => {
    const buffer = new ChangesetBuffer(
      new KvDb(new MemoryLevel({ keyEncoding: 'view', valueEncoding: 'view' })),
    );
    await buffer.open();
    await buffer.write({ version: 1, changeset: blockAt(2) });
    await buffer.write({ version: 1, changeset: blockAt(2) }); // the same bytes again: a replay, accepted
    const code = await codeOf(() => buffer.write({ version: 1, changeset: blockAt(3) }));
    expect(encodeChangeset((await buffer.read(1))!)).toEqual(encodeChangeset(blockAt(2)));
    return code;
  },
  'ss-version-gap': async () => {
    const ss = await StateStorage.open(new MemoryLevel({ keyEncoding: 'view', valueEncoding: 'view' }));
    await ss.applyChangeset(1, blockAt(2));
    const code = await codeOf(() => ss.applyChangeset(3, blockAt(3)));
    expect(ss.latestVersion).toBe(1);
    return code;
  },
  'ss-duplicate-version': async () => {
    const ss = await StateStorage.open(new MemoryLevel({ keyEncoding: 'view', valueEncoding: 'view' }));
    await ss.applyChangeset(1, blockAt(2));
    await ss.applyChangeset(2, blockAt(3));
    const code = await codeOf(() => ss.applyChangeset(2, blockAt(4)));
    expect(ss.latestVersion).toBe(2);
    return code;
  },
  'v2-wrong-chain': async () => {
    const h = await NodeHarness.create(template);
    try {
      await h.start({ postponeSwitch: true });
      await waitFor(() => h.rs.migratedVersion === BASE, 4000, 'the restore');
      await h.rs.close();
      await h.v1.close();
      // The operator points the node at another chain's v1 with this v2 directory.
      rmSync(h.v1Path, { recursive: true, force: true });
      cpSync(otherChain, h.v1Path, { recursive: true });
      h.v1 = await openDb(h.v1Path);
      const [v1Before, v2Before] = [await dumpDb(h.v1), await dumpDb(h.v2)];
      const code = await codeOf(() => RootStore.open(h.v1, h.v2));
      expect(await dumpDb(h.v1)).toEqual(v1Before);
      expect(await dumpDb(h.v2)).toEqual(v2Before);
      expect(await h.switchedRecord()).toBeUndefined();
      return code;
    } finally {
      await h.dispose();
    }
  },
  'migrate-version-above-latest': async () => {
    const { dir, v1 } = tempCopy();
    try {
      const before = await dumpPath(v1);
      const code = cliCode(runCli(['migrate', '--v1', v1, '--v2', join(dir, 'v2'), '--version', '99']));
      expect(await dumpPath(v1)).toEqual(before);
      if (existsSync(join(dir, 'v2'))) {
        const v2 = await openDb(join(dir, 'v2'));
        expect(await new KvDb(v2).get(utf8('m/switched'))).toBeUndefined();
        expect(await new KvDb(v2).get(utf8('c/latest'))).toBeUndefined();
        await v2.close();
      }
      return code;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
  'concurrent-snapshot': () =>
    onNode(async (h) => {
      const ms = await MultiStoreV1.open(h.v1, { readOnly: true });
      const snapshots = new SnapshotsManager(ms);
      const first = new MigrationStream<SnapshotItem>(1);
      const running = snapshots.createMigration(BASE, first);
      await waitFor(() => first.size > 0, 2000, 'the first export');
      const code = await codeOf(() => snapshots.createMigration(BASE, new MigrationStream<SnapshotItem>(1)));
      first.cancel('test done');
      await rejectionOf(running);
      return code;
    }),
  'concurrent-migration-other-height': () =>
    onNode(async (h) => {
      await h.start({ postponeSwitch: true });
      await waitFor(() => h.rs.migratedVersion === BASE, 4000, 'the restore');
      return codeOf(() => h.rs.manager.migrate(BASE - 2));
    }),
  'second-node-same-home': () =>
    onNode(async (h) => {
      await h.start({ postponeSwitch: true });
      return codeOf(async () => {
        const again = await openDb(h.v1Path);
        await again.close();
      });
    }),
  'sc-restore-checkpoint-corrupt': () =>
    onNode(async (h) => {
      await new KvDb(h.v2).put(utf8('c/restore'), utf8('{not json'));
      return migrationFailure(h);
    }),
};

const runners: Record<string, (c: Case) => Promise<string>> = {
  'legacy-node': async (c) => codeOf(() => decodeLegacyNode(hexArg(c, 'hash'), readHex(c.input))),
  'node-key-node': async (c) => codeOf(() => decodeNodeKeyNode(hexArg(c, 'nodeKey'), readHex(c.input))),
  changeset: async (c) => codeOf(() => decodeChangeset(readHex(c.input))),
  'snapshot-item': async (c) => codeOf(() => decodeSnapshotItem(readHex(c.input))),
  'importer-state': async (c) => codeOf(() => decodeImporterState(readHex(c.input))),
  stream: async (c) => restoreCode(readStream(c.input), Number(c.args?.height ?? 1)),
  generator: async (c) => {
    const g = generators[c.input];
    if (g === undefined) throw new Error(`no generator ${c.input}`);
    return g(c);
  },
  'buffered-changeset': (c) =>
    onNode(
      async (h) => {
        await h.start({ postponeSwitch: true });
        await waitFor(() => h.rs.migratedVersion === BASE, 4000, 'the restore');
        h.rs.pause();
        await h.commits(2);
        await h.rs.manager.buffer.drain();
        await new KvDb(h.v2).put(changesetKey(BASE + 1), readHex(c.input));
        const before = await dumpDb(h.v1);
        h.rs.resume();
        const err = await h.waitFailed();
        h.rs.releaseSwitch();
        await new Promise((r) => setTimeout(r, 20));
        expect(await dumpDb(h.v1)).toEqual(before);
        return err.code;
      },
      { v1Changes: true },
    ),
  'importer-checkpoint': (c) =>
    onNode(async (h) => {
      const kv = new KvDb(h.v2);
      await kv.put(utf8('c/restore'), utf8(JSON.stringify({ version: BASE, done: [] })));
      await kv.put(utf8('c/restore/acc'), readHex(c.input));
      return migrationFailure(h);
    }),
  apply: async (c) => {
    const { dir, v1 } = tempCopy();
    try {
      const before = await dumpPath(v1);
      const code = cliCode(runCli(['apply', '--v1', v1, '--changesets', join(BAD, c.input)]));
      expect(await dumpPath(v1)).toEqual(before);
      return code;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
  'go-v1': async (c) => {
    // A Go-written fixture with the case's bytes put in or deleted, then one CLI command.
    const spec = JSON.parse(readFileSync(join(BAD, c.input), 'utf8')) as {
      fixture: string;
      command: 'inspect' | 'migrate';
      put?: Record<string, string>;
      del?: string[];
    };
    const dir = mkdtempSync(join(tmpdir(), 'rel-go-'));
    const v1 = join(dir, 'application.db');
    try {
      cpSync(join(FIXTURES, 'go', spec.fixture, 'application.db'), v1, { recursive: true });
      const db = await openDb(v1, { createIfMissing: false });
      const kv = new KvDb(db);
      for (const [k, v] of Object.entries(spec.put ?? {})) await kv.put(fromHex(k), fromHex(v));
      for (const k of spec.del ?? []) await kv.del(fromHex(k));
      await db.close();
      const before = await dumpPath(v1);
      const args =
        spec.command === 'inspect'
          ? ['inspect', '--v1', v1]
          : ['migrate', '--v1', v1, '--v2', join(dir, 'v2')];
      const t0 = performance.now();
      const code = cliCode(runCli(args));
      // A guard against a hang (a CLI start is ~0.5 s), not a speed target: loaded CI machines vary.
      expect(performance.now() - t0).toBeLessThan(5000);
      expect(await dumpPath(v1)).toEqual(before);
      return code;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
  rpc: (c) =>
    onNode(async (h) => {
      await h.start({ postponeSwitch: true });
      const server = await startRpcServer(h.rs, { port: 0 });
      try {
        const res = await fetch(server.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: String(c.args?.body),
        });
        const doc = (await res.json()) as { error?: { code: number; data?: { code?: string } } };
        expect(doc.error).toBeDefined();
        // The server goes on answering.
        const ok = await fetch(server.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"jsonrpc":"2.0","id":9,"method":"migration_status"}',
        });
        expect(((await ok.json()) as { result?: unknown }).result).toBeDefined();
        return doc.error?.data?.code ?? String(doc.error?.code);
      } finally {
        await server.close();
      }
    }),
};

describe('the bad-input corpus', () => {
  it('has 30 or more cases, unique names, known runners, and a README row for each', () => {
    expect(manifest.length).toBeGreaterThanOrEqual(30);
    expect(new Set(manifest.map((c) => c.name)).size).toBe(manifest.length);
    for (const c of manifest) expect(Object.keys(runners), c.name).toContain(c.runner);
    const readme = readFileSync(join(BAD, 'README.md'), 'utf8');
    for (const c of manifest) expect(readme, c.name).toContain(`| \`${c.name}\` |`);
  });

  it('references every data file under test/fixtures/bad', () => {
    const files: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(d, e.name));
        else if (e.name !== 'manifest.json' && e.name !== 'README.md')
          files.push(relative(BAD, join(d, e.name)));
      }
    };
    walk(BAD);
    const used = new Set(manifest.map((c) => c.input));
    expect(files.filter((f) => !used.has(f))).toEqual([]);
  });

  for (const c of manifest) {
    it(`${c.name} → ${c.code}`, async () => {
      const t0 = performance.now();
      const code = await runners[c.runner](c);
      expect(code, c.issue ?? c.proves).toBe(c.currentCode ?? c.code);
      expect(performance.now() - t0).toBeLessThan(5000);
    }, 5000);
  }
});

describe('migration records that v2 and v1 do not back up are not trusted', () => {
  const cases: Array<[string, string, Uint8Array]> = [
    ['m/migrated claims the v1 height, v2 holds nothing else', 'm/migrated', u64be(BASE)],
    ['m/migrated is 3 bytes (read as 5.5e12)', 'm/migrated', Uint8Array.of(0, 0, 5)],
    ['m/height is 3 bytes (read as 5.5e12)', 'm/height', Uint8Array.of(0, 0, 5)],
    ['m/height is above v1 latest', 'm/height', u64be(BASE + 5)],
  ];
  for (const [what, key, value] of cases) {
    it(`${what}: the migration starts over instead of switching to an incomplete v2`, async () => {
      const h = await NodeHarness.create(template);
      try {
        await new KvDb(h.v2).put(utf8(key), value);
        await h.start({ postponeSwitch: true });
        expect(h.events[0]).toEqual({ type: 'started', version: BASE });
        await h.commit();
        await waitFor(() => h.rs.migratedVersion === BASE + 1, 4000, 'the migration');
        expect(h.rs.sc.latestVersion).toBe(BASE + 1);
        await h.expectNotSwitched();
        h.rs.releaseSwitch();
        await h.untilSwitched();
        await h.expectContinuity();
      } finally {
        await h.dispose();
      }
    }, 5000);
  }
});
