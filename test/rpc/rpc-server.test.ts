import { join } from 'node:path';
import { iavlSpec, tendermintSpec, verifyMembership, verifyNonMembership } from '@confio/ics23';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runStatus } from '../../src/cli/status.js';
import type { LevelDatabase } from '../../src/db/kv-db.js';
import { openDb } from '../../src/db/open-db.js';
import { fromHex, toHex, utf8 } from '../../src/encoding/bytes.js';
import { type RpcServer, startRpcServer } from '../../src/rpc/rpc-server.js';
import { RootStore, type RootStoreOptions } from '../../src/v2/root/root-store.js';
import { decodeForVerifier } from '../helpers/ics23.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { buildV1, type Workload } from '../helpers/v1-builder.js';

const tempDir = useTempDirs();
const STORES = ['acc', 'bank', 'staking'];

interface Node {
  home: string;
  store: RootStore;
  server: RpcServer;
  workload: Workload;
  /** Stops the server and the store and closes both databases. */
  stop(): Promise<void>;
}

const running: Node[] = [];
afterEach(async () => {
  for (const n of running.splice(0)) await n.stop();
});

/** A node home with a v1 history (keysPerStore keys, `versions` versions), opened and served on a free port. */
async function startNode(
  shape: { keysPerStore: number; versions: number },
  options: RootStoreOptions = {},
  home = join(tempDir('rpc'), 'home'),
): Promise<Node> {
  const v1Path = join(home, 'application.db');
  let workload: Workload;
  {
    const db = await openDb(v1Path);
    workload = (await buildV1(db, { stores: STORES, ...shape })).workload;
    await db.close();
  }
  const node = await openNode(home, options);
  return { ...node, workload };
}

async function openNode(home: string, options: RootStoreOptions = {}): Promise<Omit<Node, 'workload'>> {
  const v1: LevelDatabase = await openDb(join(home, 'application.db'));
  const v2: LevelDatabase = await openDb(join(home, 'v2'));
  const store = await RootStore.open(v1, v2, options);
  const server = await startRpcServer(store, { port: 0 });
  let stopped = false;
  const node = {
    home,
    store,
    server,
    workload: undefined as unknown as Workload,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await server.close();
      await store.close();
      await v1.close();
      await v2.close();
    },
  };
  running.push(node);
  return node;
}

let nextId = 1;

/** One JSON-RPC call; resolves to the whole response object. */
async function rpc(server: RpcServer, method: string, params?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: nextId++,
      method,
      ...(params === undefined ? {} : { params }),
    }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

/** The result of a call that must succeed. */
async function call<T = Record<string, unknown>>(
  server: RpcServer,
  method: string,
  params?: unknown,
): Promise<T> {
  const r = await rpc(server, method, params);
  expect(r.error, JSON.stringify(r.error)).toBeUndefined();
  return r.result as T;
}

interface CommitInfoJson {
  height: number;
  appHash: string;
  stores: Array<{ name: string; version: number; hash: string }>;
}

interface QueryJson {
  value: string | null;
  height: number;
  proof?: { ops: Array<{ type: string; key: string; data: string }> };
}

/** Checks every query proof of a height against the app hash commit_info reports for it. */
async function checkProofs(node: Node | Omit<Node, 'workload'>, height: number, keys: Uint8Array[]) {
  const ci = await call<CommitInfoJson>(node.server, 'commit_info', { height });
  expect(ci.height).toBe(height);
  expect(ci.appHash).toBe(toHex((await node.store.commitInfo(height)).appHash));
  expect(ci.stores.map((s) => s.name)).toEqual(STORES);
  const appHash = fromHex(ci.appHash);
  let present = 0;
  let absent = 0;
  for (const { name, hash } of ci.stores) {
    const root = fromHex(hash);
    for (const key of keys) {
      const r = await call<QueryJson>(node.server, 'query', {
        store: name,
        key: toHex(key),
        height,
        prove: true,
      });
      expect(r.height).toBe(height);
      const direct = await node.store.query(name, key, height);
      expect(r.value).toBe(direct.value === undefined ? null : toHex(direct.value));
      const [iavlOp, simpleOp] = r.proof!.ops;
      expect(r.proof!.ops.map((o) => o.type)).toEqual(['ics23:iavl', 'ics23:simple']);
      expect(iavlOp.key).toBe(toHex(key));
      expect(simpleOp.key).toBe(toHex(utf8(name)));
      // The store root inside the app hash (tendermint spec)...
      const storeProof = decodeForVerifier(fromHex(simpleOp.data));
      expect(verifyMembership(storeProof, tendermintSpec, appHash, utf8(name), root)).toBe(true);
      // ...and the key inside the store root (iavl spec).
      const keyProof = decodeForVerifier(fromHex(iavlOp.data));
      if (r.value !== null) {
        expect(verifyMembership(keyProof, iavlSpec, root, key, fromHex(r.value))).toBe(true);
        // A proof is for that value and no other.
        expect(verifyMembership(keyProof, iavlSpec, root, key, utf8('forged'))).toBe(false);
        present++;
      } else {
        expect(verifyNonMembership(keyProof, iavlSpec, root, key)).toBe(true);
        absent++;
      }
    }
  }
  expect(present).toBeGreaterThan(0);
  expect(absent).toBeGreaterThan(0);
}

async function waitForPhase(server: RpcServer, phase: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await call<{ phase: string }>(server, 'migration_status');
    if (s.phase === phase) return;
    if (Date.now() > deadline) throw new Error(`phase still ${s.phase}, not ${phase}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('RPC server: queries and proofs', () => {
  it('query proofs verify with ICS23 against commit_info, served from v1 and then from v2 after the switch', async () => {
    const node = await startNode({ keysPerStore: 400, versions: 6 }, { migrate: false });
    const w = node.workload;
    // Present keys, keys deleted by the history (key space is 1.2× the initial keys), absent keys.
    const keys = [0, 1, 17, 250, 399, 420, 470, 479, 9_999_999].map((i) => w.key(i));
    keys.push(utf8('a'), utf8('zzz'));
    expect((await call(node.server, 'migration_status')).phase).toBe('not-started');
    for (const h of [3, 6]) await checkProofs(node, h, keys);
    await node.stop();

    // Reopened as a node would: migrates, switches, then commits blocks to v2 only.
    const again = await openNode(node.home);
    await waitForPhase(again.server, 'switched');
    for (let b = 0; b < 3; b++) await again.store.commit(w.block(100));
    const st = await call<{ switchedAtVersion: number; latestVersion: number }>(
      again.server,
      'migration_status',
    );
    expect(st.switchedAtVersion).toBe(6);
    expect(st.latestVersion).toBe(9);
    for (const h of [6, 9]) await checkProofs(again, h, keys);
    // Without prove: no proof member, same value; height 0 or absent means the latest.
    for (const height of [undefined, 0, 9]) {
      const r = await call<QueryJson>(again.server, 'query', { store: 'bank', key: toHex(w.key(1)), height });
      expect(r.proof).toBeUndefined();
      expect(r.height).toBe(9);
      expect(r.value).toBe(toHex((await again.store.query('bank', w.key(1), 9)).value!));
    }
  });

  it('accepts params by position, a 0x prefix, null for an absent optional param, and answers batches in order', async () => {
    const node = await startNode({ keysPerStore: 50, versions: 3 }, { migrate: false });
    // A key the history left in place (the workload deletes some).
    let key = node.workload.key(0);
    for (let i = 0; i < 50; i++) {
      if ((await node.store.query('acc', node.workload.key(i))).value !== undefined) {
        key = node.workload.key(i);
        break;
      }
    }
    const byName = await call<QueryJson>(node.server, 'query', { store: 'acc', key: toHex(key) });
    expect(byName.value).not.toBeNull();
    expect(await call(node.server, 'query', ['acc', `0x${toHex(key)}`, null, false])).toEqual(byName);
    expect(await call(node.server, 'query', ['acc', toHex(key).toUpperCase()])).toEqual(byName);
    expect((await call<CommitInfoJson>(node.server, 'commit_info', [2])).height).toBe(2);
    expect((await call<CommitInfoJson>(node.server, 'commit_info')).height).toBe(3);
    expect(await call(node.server, 'migration_status', [])).toMatchObject({ phase: 'not-started' });

    const res = await fetch(node.server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        { jsonrpc: '2.0', id: 'a', method: 'commit_info', params: { height: 1 } },
        { jsonrpc: '2.0', method: 'commit_info' }, // a notification: no entry in the answer
        { jsonrpc: '2.0', id: 7, method: 'query', params: { store: 'acc', key: toHex(key), height: 2 } },
      ]),
    });
    const batch = (await res.json()) as Array<{ id: unknown; result: { height: number } }>;
    expect(batch.map((b) => [b.id, b.result.height])).toEqual([
      ['a', 1],
      [7, 2],
    ]);
  });
});

interface Case {
  name: string;
  body: string;
  contentType?: string;
  status?: number;
  code: number;
  id?: unknown;
  dataCode?: string;
  /** A fragment the message must contain. */
  message?: RegExp;
}

const req = (method: unknown, params?: unknown, id: unknown = 1) =>
  JSON.stringify({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) });

describe('RPC server: malformed requests', () => {
  it('answers each malformed request with the right JSON-RPC error, and keeps serving', async () => {
    const node = await startNode({ keysPerStore: 50, versions: 3 }, { migrate: false });
    const key = toHex(node.workload.key(1));
    const cases: Case[] = [
      { name: 'bad JSON', body: '{"jsonrpc": "2.0", "id": 1, "method": ', code: -32700, id: null },
      { name: 'empty body', body: '', code: -32700, id: null, message: /empty/ },
      { name: 'a number, not a request', body: '42', code: -32600, id: null },
      { name: 'a string, not a request', body: '"migration_status"', code: -32600, id: null },
      { name: 'null', body: 'null', code: -32600, id: null },
      {
        name: 'wrong jsonrpc version',
        body: '{"jsonrpc":"1.0","id":3,"method":"migration_status"}',
        code: -32600,
        id: 3,
        message: /"2\.0"/,
      },
      { name: 'jsonrpc missing', body: '{"id":4,"method":"migration_status"}', code: -32600, id: 4 },
      {
        name: 'jsonrpc a number',
        body: '{"jsonrpc":2,"id":4,"method":"migration_status"}',
        code: -32600,
        id: 4,
      },
      { name: 'method missing', body: '{"jsonrpc":"2.0","id":5}', code: -32600, id: 5, message: /method/ },
      { name: 'method not a string', body: req(5, undefined, 6), code: -32600, id: 6 },
      {
        name: 'id an object',
        body: '{"jsonrpc":"2.0","id":{},"method":"migration_status"}',
        code: -32600,
        id: null,
      },
      {
        name: 'id a boolean',
        body: '{"jsonrpc":"2.0","id":true,"method":"migration_status"}',
        code: -32600,
        id: null,
      },
      { name: 'unknown method', body: req('eth_blockNumber', undefined, 'x'), code: -32601, id: 'x' },
      { name: 'a prototype name as method', body: req('constructor'), code: -32601 },
      { name: 'params a string', body: req('query', 'bank'), code: -32600 },
      { name: 'params a number', body: req('commit_info', 5), code: -32600 },
      {
        name: 'unknown param',
        body: req('query', { store: 'bank', key, heigth: 2 }),
        code: -32602,
        dataCode: 'ERR_INVALID_PARAMS',
        message: /heigth/,
      },
      {
        name: 'params for a method without any',
        body: req('migration_status', { verbose: true }),
        code: -32602,
      },
      { name: 'too many positional params', body: req('query', ['bank', key, 1, true, 'x']), code: -32602 },
      { name: 'store missing', body: req('query', { key }), code: -32602, message: /store is required/ },
      {
        name: 'key missing',
        body: req('query', { store: 'bank' }),
        code: -32602,
        message: /key is required/,
      },
      {
        name: 'key a number',
        body: req('query', { store: 'bank', key: 12 }),
        code: -32602,
        message: /key must be/,
      },
      { name: 'store a number', body: req('query', { store: 1, key }), code: -32602 },
      { name: 'store empty', body: req('query', { store: '', key }), code: -32602 },
      {
        name: 'height a string',
        body: req('query', { store: 'bank', key, height: '2' }),
        code: -32602,
        message: /height/,
      },
      {
        name: 'height -1',
        body: req('query', { store: 'bank', key, height: -1 }),
        code: -32602,
        message: /-1/,
      },
      { name: 'height 1.5', body: req('commit_info', { height: 1.5 }), code: -32602 },
      { name: 'height 2^60', body: req('commit_info', { height: 2 ** 60 }), code: -32602 },
      {
        name: 'prove "yes"',
        body: req('query', { store: 'bank', key, prove: 'yes' }),
        code: -32602,
        message: /prove/,
      },
      { name: 'non-hex key', body: req('query', { store: 'bank', key: 'zz' }), code: -32602, message: /hex/ },
      {
        name: 'odd-length hex',
        body: req('query', { store: 'bank', key: 'abc' }),
        code: -32602,
        message: /odd/,
      },
      { name: 'empty key', body: req('query', { store: 'bank', key: '' }), code: -32602, message: /empty/ },
      {
        name: 'unknown store',
        body: req('query', { store: 'nosuch', key }),
        code: -32000,
        dataCode: 'ERR_UNKNOWN_STORE',
        message: /nosuch/,
      },
      {
        name: 'query above the latest height',
        body: req('query', { store: 'bank', key, height: 99 }),
        code: -32000,
        dataCode: 'ERR_VERSION_NOT_FOUND',
      },
      {
        name: 'commit_info above the latest height',
        body: req('commit_info', { height: 4 }),
        code: -32000,
        dataCode: 'ERR_VERSION_NOT_FOUND',
      },
      {
        name: 'a 5 MB body',
        body: req('query', { store: 'bank', key: 'ab'.repeat(2_500_000) }),
        status: 413,
        code: -32600,
        id: null,
        message: /larger than/,
      },
      { name: 'an empty batch', body: '[]', code: -32600, id: null, message: /empty batch/ },
      {
        name: 'a batch over the limit',
        body: JSON.stringify(
          Array.from({ length: 101 }, (_, i) => JSON.parse(req('migration_status', undefined, i))),
        ),
        code: -32600,
        id: null,
        message: /at most 100/,
      },
      {
        name: 'text/plain',
        body: req('migration_status'),
        contentType: 'text/plain',
        status: 415,
        code: -32600,
        id: null,
        message: /Content-Type/,
      },
      {
        name: 'form encoded (curl -d without -H)',
        body: req('migration_status'),
        contentType: 'application/x-www-form-urlencoded',
        status: 415,
        code: -32600,
        id: null,
      },
    ];
    expect(cases.length).toBeGreaterThanOrEqual(20);
    for (const c of cases) {
      const res = await fetch(node.server.url, {
        method: 'POST',
        headers: { 'content-type': c.contentType ?? 'application/json' },
        body: c.body,
      });
      expect(res.status, c.name).toBe(c.status ?? 200);
      expect(res.headers.get('content-type'), c.name).toMatch(/^application\/json/);
      const r = (await res.json()) as {
        jsonrpc: string;
        id: unknown;
        error: { code: number; message: string; data?: { code?: string } };
      };
      expect(r.jsonrpc, c.name).toBe('2.0');
      expect(r.error?.code, `${c.name}: ${JSON.stringify(r)}`).toBe(c.code);
      expect(r.id, c.name).toEqual('id' in c ? c.id : 1);
      expect(typeof r.error.message, c.name).toBe('string');
      if (c.dataCode) expect(r.error.data?.code, c.name).toBe(c.dataCode);
      if (c.message) expect(r.error.message, c.name).toMatch(c.message);
      if (c.code === -32602) expect(r.error.data?.code, c.name).toBe('ERR_INVALID_PARAMS');
    }

    // A batch with bad entries: each gets its own answer, the good ones still succeed.
    const batch = await fetch(node.server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        { jsonrpc: '2.0', id: 1, method: 'commit_info' },
        42,
        { jsonrpc: '2.0', id: 2, method: 'nope' },
        { jsonrpc: '2.0', id: 3, method: 'query', params: { store: 'bank', key: 'xyz' } },
        { jsonrpc: '2.0', method: 'nope' }, // a notification, even of an unknown method: no answer
      ]),
    });
    expect(batch.status).toBe(200);
    const answers = (await batch.json()) as Array<{
      id: unknown;
      result?: unknown;
      error?: { code: number };
    }>;
    expect(answers.map((a) => [a.id, a.error?.code ?? 'ok'])).toEqual([
      [1, 'ok'],
      [null, -32600],
      [2, -32601],
      [3, -32602],
    ]);

    // Only notifications: nothing to answer.
    for (const body of [
      '{"jsonrpc":"2.0","method":"migration_status"}',
      '[{"jsonrpc":"2.0","method":"commit_info"},{"jsonrpc":"2.0","method":"query","params":{}}]',
    ]) {
      const res = await fetch(node.server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(res.status).toBe(204);
      expect(await res.text()).toBe('');
    }

    // Not a POST, not a route.
    const get = await fetch(node.server.url);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect(((await get.json()) as { error: { code: number } }).error.code).toBe(-32600);
    const missing = await fetch(`${node.server.url}/nope`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: string }).error).toMatch(/POST \//);

    // Still alive and still right.
    const health = await fetch(`${node.server.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true, phase: 'not-started', latestVersion: 3 });
    expect((await call<QueryJson>(node.server, 'query', { store: 'bank', key })).height).toBe(3);
  });
});

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\.)*"';
// prom-client writes NaN as "Nan"; Prometheus parses values with Go's ParseFloat, which takes any case.
const VALUE = '(?:[-+]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][-+]?\\d+)?|[Nn]a[Nn]|[-+]Inf)';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(?:${LABEL}(?:,${LABEL})*,?)?\\})? ${VALUE}(?: -?\\d+)?$`);
const HELP = new RegExp(`^# HELP (${NAME}) .+$`);
const TYPE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);

/** Parses Prometheus text exposition strictly enough to catch a broken line; returns samples by series. */
function parsePrometheus(text: string): { types: Map<string, string>; samples: Map<string, number> } {
  const types = new Map<string, string>();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const help = HELP.exec(line);
    if (help) continue;
    const type = TYPE.exec(line);
    if (type) {
      expect(types.has(type[1]), `duplicate TYPE ${type[1]}`).toBe(false);
      types.set(type[1], type[2]);
      continue;
    }
    expect(line, 'a Prometheus sample line').toMatch(SAMPLE);
    const sp = line.lastIndexOf(' ');
    samples.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return { types, samples };
}

describe('RPC server: metrics and health', () => {
  it('/metrics is Prometheus text with the migration gauges, the commit histogram and RPC counters', async () => {
    const node = await startNode({ keysPerStore: 200, versions: 3 });
    await waitForPhase(node.server, 'switched');
    for (let b = 0; b < 4; b++) await node.store.commit(node.workload.block(50));
    await call(node.server, 'commit_info');
    await rpc(node.server, 'query', { store: 'nosuch', key: '01' });

    const res = await fetch(`${node.server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const { types, samples } = parsePrometheus(await res.text());
    expect(Object.fromEntries(types)).toMatchObject({
      store_migrate_phase: 'gauge',
      store_migrate_migrated_version: 'gauge',
      store_migrate_target_version: 'gauge',
      store_migrate_latest_version: 'gauge',
      store_migrate_leaves_done: 'gauge',
      store_migrate_leaves_total: 'gauge',
      store_migrate_rate: 'gauge',
      store_migrate_eta_seconds: 'gauge',
      store_migrate_buffered_changesets: 'gauge',
      store_migrate_commit_duration_seconds: 'histogram',
      store_migrate_rpc_requests_total: 'counter',
    });
    // Exactly one phase is current.
    const phases = [...samples].filter(([k]) => k.startsWith('store_migrate_phase{'));
    expect(phases.filter(([, v]) => v === 1).map(([k]) => k)).toEqual([
      'store_migrate_phase{phase="switched"}',
    ]);
    expect(phases.length).toBeGreaterThanOrEqual(6);
    expect(samples.get('store_migrate_latest_version')).toBe(7);
    expect(samples.get('store_migrate_migrated_version')).toBeGreaterThanOrEqual(3);
    expect(samples.get('store_migrate_leaves_total')).toBe(samples.get('store_migrate_leaves_done'));
    // The four blocks after the switch went to v2.
    expect(samples.get('store_migrate_commit_duration_seconds_count{mode="v2"}')).toBe(4);
    expect(samples.get('store_migrate_commit_duration_seconds_count{mode="v1"}')).toBe(0);
    expect(samples.get('store_migrate_commit_duration_seconds_bucket{le="+Inf",mode="v2"}')).toBe(4);
    expect(samples.get('store_migrate_rpc_requests_total{method="commit_info",outcome="ok"}')).toBe(1);
    expect(samples.get('store_migrate_rpc_requests_total{method="query",outcome="error"}')).toBe(1);
    // A registry of its own: nothing from prom-client's global registry or the process by default.
    expect([...types.keys()].every((n) => n.startsWith('store_migrate_'))).toBe(true);

    const health = await fetch(`${node.server.url}/health`);
    expect(await health.json()).toEqual({ ok: true, phase: 'switched', latestVersion: 7 });
  });

  it('two servers in one process keep separate metrics; process metrics on request', async () => {
    const a = await startNode({ keysPerStore: 20, versions: 2 }, { migrate: false });
    const b = await openNode(join(tempDir('rpc2'), 'home'), { stores: STORES });
    const withProcess = await startRpcServer(a.store, { port: 0, processMetrics: true });
    try {
      const textA = await (await fetch(`${a.server.url}/metrics`)).text();
      const textB = await (await fetch(`${b.server.url}/metrics`)).text();
      expect(parsePrometheus(textA).samples.get('store_migrate_latest_version')).toBe(2);
      expect(parsePrometheus(textB).samples.get('store_migrate_latest_version')).toBe(0);
      const p = parsePrometheus(await (await fetch(`${withProcess.url}/metrics`)).text());
      expect(p.types.get('process_cpu_user_seconds_total')).toBe('counter');
      expect(p.types.get('store_migrate_phase')).toBe('gauge');
    } finally {
      await withProcess.close();
    }
  });
});

describe('RPC server: migration_status while blocks are committed', () => {
  it('passes through restoring and syncing to switched, in order, with the fields of status --json', async () => {
    // Throttled so the restore takes a while and blocks land during it.
    const node = await startNode({ keysPerStore: 1500, versions: 3 }, { throttle: 6000 });
    const seen: string[] = [];
    const docs: Array<
      Record<string, unknown> & { phase: string; migratedVersion: number; progress: { percent: number } }
    > = [];
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const s = await call<(typeof docs)[number]>(node.server, 'migration_status');
      docs.push(s);
      if (seen.at(-1) !== s.phase) seen.push(s.phase);
      if (s.phase === 'switched') break;
      await node.store.commit(node.workload.block(40));
      await new Promise((r) => setTimeout(r, 15));
    }
    const ORDER = ['not-started', 'idle', 'restoring', 'syncing', 'waiting-switch', 'switched'];
    expect(seen).toContain('restoring');
    expect(seen).toContain('syncing');
    expect(seen.at(-1)).toBe('switched');
    expect(seen.map((p) => ORDER.indexOf(p))).toEqual(
      seen.map((p) => ORDER.indexOf(p)).sort((x, y) => x - y),
    );
    expect(seen.every((p) => ORDER.includes(p))).toBe(true);
    for (let i = 1; i < docs.length; i++) {
      expect(docs[i].migratedVersion).toBeGreaterThanOrEqual(docs[i - 1].migratedVersion);
      expect(docs[i].progress.percent).toBeGreaterThanOrEqual(docs[i - 1].progress.percent);
    }
    const restoring = docs.find((d) => d.phase === 'restoring')!;
    expect(restoring.progress).toMatchObject({ stores: 3, bufferedChangesets: expect.any(Number) });
    expect(restoring.progress.percent).toBeLessThan(100);

    // The same document, field for field, as `status --json` of the home once the node is stopped.
    for (let b = 0; b < 2; b++) await node.store.commit(node.workload.block(40));
    const live = await call<Record<string, unknown> & { progress: Record<string, unknown> }>(
      node.server,
      'migration_status',
    );
    await node.stop();
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      out.push(String(chunk));
      return true;
    });
    try {
      expect(await runStatus({ home: node.home, json: true })).toBe(0);
    } finally {
      spy.mockRestore();
    }
    const atRest = JSON.parse(out.join('')) as Record<string, unknown> & {
      progress: Record<string, unknown>;
    };
    for (const k of Object.keys(atRest)) {
      if (k !== 'progress') expect(live[k], k).toEqual(atRest[k]);
    }
    for (const k of Object.keys(atRest.progress))
      expect(live.progress[k], `progress.${k}`).toEqual(atRest.progress[k]);
  });
});
