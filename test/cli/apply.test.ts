import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseChangesetLine } from '../../src/cli/apply.js';
import { openDb } from '../../src/db/open-db.js';
import { fromHex, toHex } from '../../src/encoding/bytes.js';
import type { Changeset, KVPair } from '../../src/encoding/changeset.js';
import { isStoreMigrateError } from '../../src/errors.js';
import { MultiStoreV1 } from '../../src/v1/multi-store-v1.js';
import { Rng } from '../helpers/random.js';
import { runCli } from '../helpers/run-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';

const tempDir = useTempDirs();

interface LineChange {
  store: string;
  key: string;
  value?: string;
  delete?: boolean;
}
interface Line {
  version: number;
  changes: LineChange[];
}

const hex = (s: string) => Buffer.from(s).toString('hex');

/** Random changesets over a few stores, with deletes and repeated keys inside a line. */
function randomLines(seed: number, versions: number, first = 1): Line[] {
  const rng = new Rng(seed);
  const stores = ['acc', 'bank', 'gov', 'staking'];
  const lines: Line[] = [];
  for (let v = first; v < first + versions; v++) {
    const changes: LineChange[] = [];
    for (let i = 0; i < 40; i++) {
      // staking shows up from version 3 on: a new database mounts it from version 1 anyway.
      const store = rng.pick(v >= 3 ? stores : stores.slice(0, 3));
      const key = hex(`k${rng.int(60)}`);
      if (rng.next() < 0.2) changes.push({ store, key, delete: true });
      else changes.push({ store, key, value: toHex(rng.bytes(rng.int(40))) });
    }
    lines.push({ version: v, changes });
  }
  return lines;
}

function writeLines(dir: string, lines: Array<Line | string>, name = 'changes.jsonl'): string {
  const file = join(dir, name);
  writeFileSync(file, `${lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n')}\n`);
  return file;
}

function toChangeset(line: Line): Changeset {
  const byStore = new Map<string, KVPair[]>();
  for (const c of line.changes) {
    const pairs = byStore.get(c.store) ?? [];
    byStore.set(c.store, pairs);
    pairs.push(
      c.delete ? { key: fromHex(c.key), remove: true } : { key: fromHex(c.key), value: fromHex(c.value!) },
    );
  }
  return { changes: [...byStore].map(([store, pairs]) => ({ store, pairs })) };
}

interface Expected {
  appHash: string;
  stores: Array<{ name: string; rootHash: string; version: number }>;
}

/** The same changesets committed straight through MultiStoreV1, in another database. */
async function expectedCommits(lines: Line[], stores: string[]): Promise<Expected[]> {
  const db = await openDb(join(tempDir('expected'), 'db'));
  try {
    const ms = await MultiStoreV1.open(db, { stores });
    const out: Expected[] = [];
    for (const line of lines) {
      const ci = await ms.commit(toChangeset(line), line.version);
      out.push({
        appHash: toHex(ci.appHash),
        stores: ci.stores.map((s) => ({ name: s.name, rootHash: toHex(s.hash), version: s.version })),
      });
    }
    return out;
  } finally {
    await db.close();
  }
}

/** Versions, latest app hash and stores, read in-process (faster than spawning inspect). */
async function readBack(path: string): Promise<{ versions: number[]; appHash: string; stores: string[] }> {
  const db = await openDb(path, { createIfMissing: false });
  try {
    const ms = await MultiStoreV1.open(db, { readOnly: true });
    const ci = await ms.getCommitInfo(ms.latestVersion);
    return { versions: await ms.versions(), appHash: toHex(ci.appHash), stores: ms.storeNames() };
  } finally {
    await db.close();
  }
}

function inspect(path: string, version?: number) {
  const args = ['inspect', '--v1', path, '--json'];
  if (version !== undefined) args.push('--version', String(version));
  const r = runCli(args);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
}

/** One stderr line starting with the code. */
function expectError(
  r: { code: number | null; stderr: string; stdout: string },
  code: string,
  exit = 1,
): string {
  expect(r.code).toBe(exit);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^${code}: `));
  expect(r.stdout).toBe('');
  return lines[0];
}

describe('store-migrate apply', () => {
  it('commits one version per line; inspect reports the same app hash and roots as MultiStoreV1', async () => {
    const dir = tempDir('apply');
    const lines = randomLines(11, 6);
    const file = writeLines(dir, lines);
    const db = join(dir, 'application.db');
    const r = runCli(['apply', '--v1', db, '--changesets', file, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    const expected = await expectedCommits(lines, ['acc', 'bank', 'gov', 'staking']);
    expect(out).toMatchObject({
      layout: 'rootmulti',
      applied: 6,
      latestVersion: 6,
      versions: [1, 2, 3, 4, 5, 6],
      version: 6,
      appHash: expected[5].appHash,
    });
    for (let v = 1; v <= 6; v++) {
      const got = inspect(db, v);
      expect(got.version).toBe(v);
      expect(got.appHash).toBe(expected[v - 1].appHash);
      expect(got.stores.map((s: Expected['stores'][number]) => ({ ...s, keys: undefined }))).toEqual(
        expected[v - 1].stores.map((s) => ({ ...s, keys: undefined, treeLayout: 'legacy' })),
      );
    }
    // An existing database continues where it is, with the stores it has.
    const more = randomLines(12, 2, 7);
    const r2 = runCli(['apply', '--v1', db, '--changesets', writeLines(dir, more, 'more.jsonl'), '--json']);
    expect(r2.code).toBe(0);
    const all = await expectedCommits([...lines, ...more], ['acc', 'bank', 'gov', 'staking']);
    expect(JSON.parse(r2.stdout)).toMatchObject({ applied: 2, latestVersion: 8, appHash: all[7].appHash });
  });

  it('applies changes in order (a later change to a key wins) and skips blank lines', async () => {
    const dir = tempDir('apply');
    const k = hex('key');
    const lines: Line[] = [
      {
        version: 1,
        changes: [
          { store: 'bank', key: k, value: '01' },
          { store: 'bank', key: k, value: '02' },
          { store: 'acc', key: k, value: 'aa' },
        ],
      },
      {
        version: 2,
        changes: [
          { store: 'bank', key: k, delete: true },
          { store: 'bank', key: k, value: '03' },
          { store: 'acc', key: k, delete: true },
        ],
      },
    ];
    const file = writeLines(dir, ['', JSON.stringify(lines[0]), '   ', '', JSON.stringify(lines[1]), '']);
    const db = join(dir, 'db');
    const r = runCli(['apply', '--v1', db, '--changesets', file, '--json']);
    expect(r.code).toBe(0);
    const expected = await expectedCommits(lines, ['acc', 'bank']);
    const out = JSON.parse(r.stdout);
    expect(out.applied).toBe(2);
    expect(out.appHash).toBe(expected[1].appHash);
    expect(out.stores.map((s: { name: string; keys: number }) => [s.name, s.keys])).toEqual([
      ['acc', 0],
      ['bank', 1],
    ]);
    const db2 = await openDb(db, { createIfMissing: false });
    try {
      const ms = await MultiStoreV1.open(db2, { readOnly: true });
      expect(toHex((await ms.query('bank', fromHex(k), 1)).value!)).toBe('02');
      expect(toHex((await ms.query('bank', fromHex(k), 2)).value!)).toBe('03');
    } finally {
      await db2.close();
    }
  });

  it('stops at a malformed line, naming it; the lines before stay committed', async () => {
    const lines = randomLines(21, 2);
    // Only the stores of the lines before the bad one are mounted.
    const expected = await expectedCommits(lines, ['acc', 'bank', 'gov']);
    // parseChangesetLine's own tests cover every kind; these go through the binary.
    const bad = [
      '{"version": 3, "changes": [',
      '{"version": 3}',
      '{"version": "3", "changes": []}',
      '{"version": 3, "changes": [{"store": "bank", "key": "zz", "value": "00"}]}',
      '{"version": 3, "changes": [{"store": "bank", "key": "0a", "del": true}]}',
    ];
    for (const badLine of bad) {
      const sub = tempDir('apply');
      const db = join(sub, 'db');
      // The bad line is line 4: after a blank line and two good ones. A good line follows it.
      const file = writeLines(sub, [
        JSON.stringify(lines[0]),
        '',
        JSON.stringify(lines[1]),
        badLine,
        '{"version": 4, "changes": []}',
      ]);
      const r = runCli(['apply', '--v1', db, '--changesets', file]);
      const msg = expectError(r, 'ERR_INVALID_CHANGESET');
      expect(msg).toContain('line 4:');
      expect(msg).toContain('; 2 versions applied from this file before it');
      const got = await readBack(db);
      expect(got.versions).toEqual([1, 2]);
      expect(got.appHash).toBe(expected[1].appHash);
      expect(got.stores).toEqual(['acc', 'bank', 'gov']);
    }
  });

  it('rejects an empty key with ERR_EMPTY_KEY', () => {
    const dir = tempDir('apply');
    const file = writeLines(dir, [
      { version: 1, changes: [{ store: 'bank', key: '01', value: '01' }] },
      {
        version: 2,
        changes: [
          { store: 'bank', key: '02', value: '02' },
          { store: 'bank', key: '', value: '01' },
        ],
      },
    ]);
    const db = join(dir, 'db');
    const msg = expectError(runCli(['apply', '--v1', db, '--changesets', file]), 'ERR_EMPTY_KEY');
    expect(msg).toContain('line 2:');
    const got = inspect(db);
    expect(got.latestVersion).toBe(1);
    expect(got.stores[0].keys).toBe(1);
  });

  it('rejects a version gap and a repeated version, naming the line, writing nothing for it', async () => {
    const dir = tempDir('apply');
    const lines = randomLines(31, 3);
    const expected = await expectedCommits(lines, ['acc', 'bank', 'gov', 'staking']);
    const db = join(dir, 'db');
    const file = writeLines(dir, lines);
    expect(runCli(['apply', '--v1', db, '--changesets', file]).code).toBe(0);

    const gap = writeLines(dir, [{ ...randomLines(32, 1)[0], version: 5 }], 'gap.jsonl');
    const g = expectError(runCli(['apply', '--v1', db, '--changesets', gap]), 'ERR_CHANGESET_GAP');
    expect(g).toContain('line 1:');
    expect(g).toContain('0 versions applied');
    expect(g).toContain('version 5 skips ahead');

    const again = writeLines(
      dir,
      [
        { ...randomLines(33, 1)[0], version: 4 },
        { ...lines[2], version: 4 },
      ],
      'again.jsonl',
    );
    const a = expectError(runCli(['apply', '--v1', db, '--changesets', again]), 'ERR_VERSION_EXISTS');
    expect(a).toContain('line 2:');
    expect(a).toContain('1 version applied');

    const got = inspect(db);
    expect(got.versions).toEqual([1, 2, 3, 4]);
    expect(inspect(db, 3).appHash).toBe(expected[2].appHash);
  });

  it('rejects a store the existing database does not have', () => {
    const dir = tempDir('apply');
    const db = join(dir, 'db');
    const first = writeLines(dir, [{ version: 1, changes: [{ store: 'bank', key: '01', value: '01' }] }]);
    expect(runCli(['apply', '--v1', db, '--changesets', first]).code).toBe(0);
    const before = inspect(db);
    const next = writeLines(
      dir,
      [
        { version: 2, changes: [{ store: 'bank', key: '02', value: '02' }] },
        {
          version: 3,
          changes: [
            { store: 'bank', key: '03', value: '03' },
            { store: 'wasm', key: '01', value: '01' },
          ],
        },
      ],
      'next.jsonl',
    );
    const msg = expectError(runCli(['apply', '--v1', db, '--changesets', next]), 'ERR_UNKNOWN_STORE');
    expect(msg).toContain('line 2:');
    expect(msg).toContain('"wasm"');
    const after = inspect(db);
    expect(after.versions).toEqual([1, 2]);
    expect(after.stores).toHaveLength(1);
    expect(after.stores[0].keys).toBe(2);
    expect(before.stores[0].name).toBe('bank');
  });

  it('treats missing options as usage errors and a missing file as ERR_NOT_FOUND', () => {
    const dir = tempDir('apply');
    const file = writeLines(dir, [{ version: 1, changes: [] }]);
    expectError(runCli(['apply', '--changesets', file]), 'ERR_USAGE', 2);
    expectError(runCli(['apply', '--v1', join(dir, 'db')]), 'ERR_USAGE', 2);
    expectError(
      runCli(['apply', '--v1', join(dir, 'db'), '--changesets', join(dir, 'nope.jsonl')]),
      'ERR_NOT_FOUND',
    );
  });
});

describe('parseChangesetLine', () => {
  it('groups changes by store in order and decodes hex', () => {
    const p = parseChangesetLine(
      '{"version": 7, "changes": [{"store": "bank", "key": "0a", "value": "ff"}, {"store": "acc", "key": "0b", "value": ""}, {"store": "bank", "key": "0a", "delete": true}]}',
      3,
    );
    expect(p.version).toBe(7);
    expect(p.changes).toBe(3);
    expect(p.changeset.changes.map((c) => c.store)).toEqual(['bank', 'acc']);
    expect(p.changeset.changes[0].pairs).toEqual([
      { key: new Uint8Array([10]), value: new Uint8Array([255]) },
      { key: new Uint8Array([10]), remove: true },
    ]);
    expect(p.changeset.changes[1].pairs[0].value).toEqual(new Uint8Array(0));
  });

  it('names the line in every error', () => {
    const cases: Array<[string, string]> = [
      ['nope', 'ERR_INVALID_CHANGESET'],
      ['{"version": 0, "changes": []}', 'ERR_INVALID_CHANGESET'],
      ['{"version": 1.5, "changes": []}', 'ERR_INVALID_CHANGESET'],
      ['{"version": 1, "changes": {}}', 'ERR_INVALID_CHANGESET'],
      ['{"version": 1, "changes": [null]}', 'ERR_INVALID_CHANGESET'],
      ['{"version": 1, "changes": [{"store": "", "key": "01", "value": "01"}]}', 'ERR_INVALID_CHANGESET'],
      ['{"version": 1, "changes": [{"store": "a/b", "key": "01", "value": "01"}]}', 'ERR_INVALID_CHANGESET'],
      ['{"version": 1, "changes": [{"store": "a", "key": "0", "value": "01"}]}', 'ERR_INVALID_CHANGESET'],
      [
        '{"version": 1, "changes": [{"store": "a", "key": "01", "value": "01", "delete": true}]}',
        'ERR_INVALID_CHANGESET',
      ],
      ['{"version": 1, "changes": [{"store": "a", "key": "01", "delete": "yes"}]}', 'ERR_INVALID_CHANGESET'],
      ['{"version": 1, "changes": [{"store": "a", "key": "", "delete": true}]}', 'ERR_EMPTY_KEY'],
    ];
    for (const [text, code] of cases) {
      let err: unknown;
      try {
        parseChangesetLine(text, 42);
      } catch (e) {
        err = e;
      }
      expect(isStoreMigrateError(err, code as 'ERR_EMPTY_KEY'), text).toBe(true);
      expect((err as Error).message.startsWith('line 42: '), text).toBe(true);
    }
  });
});
