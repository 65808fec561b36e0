#!/usr/bin/env node
// Kill-and-restart soak test, run by hand (not in CI):
//
//   npm run soak -- --minutes 10 [--json] [--seed N] [--kill-every S] [--stores N] [--keys N]
//                   [--throttle LEAVES_PER_S] [--interval MS] [--thread worker|main] [--dir DIR]
//                   [--keep] [--verbose]
//
// It builds a node home (v1 of a realistic size from deterministic blocks), runs a node on it
// (a child process: a RootStore that migrates in the background while it commits a block every
// --interval ms), kills the node with SIGKILL at random about every --kill-every seconds and
// restarts it, until --minutes are up. A reference v1 in another directory is fed the same
// blocks as the node reports them. At the end it checks, on the home as a restarted node
// opens it:
//   - lost changesets: every version the node reported as committed is there, with the app
//     hash it reported (must be 0);
//   - continuity: every height has the reference's app hash (must hold);
// and prints a summary (or one JSON document with --json). Exit code 0 when both hold.
//
// The node is this same file with --child. The block of a version depends only on the
// version, so a node restarted any number of times commits the same chain as the reference.

import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MultiStoreV1, openDb, openNodeHome, RootStore } from '../dist/index.js';
import { SeededRandom } from '../dist/workload/seeded-random.js';

const { values: opts } = parseArgs({
  options: {
    child: { type: 'boolean', default: false },
    home: { type: 'string' },
    minutes: { type: 'string', default: '10' },
    json: { type: 'boolean', default: false },
    seed: { type: 'string', default: '1' },
    'kill-every': { type: 'string', default: '30' },
    stores: { type: 'string', default: '4' },
    keys: { type: 'string', default: '50000' },
    history: { type: 'string', default: '20' },
    throttle: { type: 'string', default: '2500' },
    interval: { type: 'string', default: '40' },
    // Where the node runs its migration (RootStore `worker`), as `serve` does by default.
    thread: { type: 'string', default: 'worker' },
    'block-changes': { type: 'string', default: '40' },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  },
  strict: true,
});

if (opts.thread !== 'worker' && opts.thread !== 'main') {
  process.stderr.write(`ERR_USAGE: --thread must be worker or main, not ${opts.thread}\n`);
  process.exit(2);
}

const num = (name) => {
  const n = Number(opts[name]);
  if (!Number.isFinite(n) || n < 0) {
    process.stderr.write(`ERR_USAGE: --${name} must be a non-negative number, not ${opts[name]}\n`);
    process.exit(2);
  }
  return n;
};

// --- the deterministic chain ------------------------------------------------------------------

const STORE_NAMES = ['auth', 'bank', 'distribution', 'gov', 'mint', 'slashing', 'staking', 'upgrade'];
const enc = new TextEncoder();
const hex = (b) => Buffer.from(b).toString('hex');

// The project's one seeded PRNG (src/workload/seeded-random.ts), from the build.
function rng(seed) {
  const r = new SeededRandom(seed);
  return () => r.float();
}

function chain(stores, keys, changes, seed) {
  const names = STORE_NAMES.slice(0, stores);
  const keyOf = (i) => enc.encode(`key/${String(i).padStart(8, '0')}`);
  const bytes = (r, n) => {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
    return b;
  };
  /** The changeset of `version`: every key at 1, `changes` random sets and deletes after. */
  const blockFor = (version) => {
    const r = rng(version * 7919 + seed * 104729);
    if (version === 1) {
      return {
        changes: names.map((store) => ({
          store,
          pairs: Array.from({ length: keys }, (_, i) => ({
            key: keyOf(i),
            value: bytes(r, 8 + Math.floor(r() * 120)),
          })),
        })),
      };
    }
    const byStore = new Map();
    for (let i = 0; i < changes; i++) {
      const store = names[Math.floor(r() * names.length)];
      const pairs = byStore.get(store) ?? [];
      byStore.set(store, pairs);
      const key = keyOf(Math.floor(r() * keys * 1.2));
      pairs.push(r() < 0.2 ? { key, remove: true } : { key, value: bytes(r, 1 + Math.floor(r() * 100)) });
    }
    return { changes: [...byStore].map(([store, pairs]) => ({ store, pairs })) };
  };
  return { names, keyOf, blockFor };
}

const workload = chain(num('stores'), num('keys'), num('block-changes'), num('seed'));

// --- the node (child process) -----------------------------------------------------------------

async function runChild() {
  // As serve opens a home: v1 and v2 shared, so the worker reads v1 on its own thread.
  const { v1, v2 } = await openNodeHome(opts.home);
  const say = (line) => process.stdout.write(`${line}\n`);
  const rs = await RootStore.open(v1, v2, {
    throttle: num('throttle') || undefined,
    batchBytes: 512 * 1024,
    worker: opts.thread === 'worker',
  });
  rs.events$.subscribe((e) =>
    say(`E ${e.type} ${e.version}${e.type === 'failed' ? ` ${e.error.code}` : ''}`),
  );
  const phase = () => rs.status().phase;
  say(`S ${rs.latestVersion} ${phase()}`);
  const progress = setInterval(() => {
    const s = rs.status();
    say(
      `P ${s.phase} ${s.migratedVersion} ${s.latestVersion} ${s.progress.leavesDone}/${s.progress.leavesTotal}`,
    );
  }, 1000);
  progress.unref();
  const interval = num('interval');
  for (;;) {
    const v = rs.latestVersion + 1;
    const mode = rs.switchedAtVersion === undefined ? 'v1' : 'v2';
    const ci = await rs.commit(workload.blockFor(v));
    // Reported only once the commit returned: the soak holds the node to every reported version.
    say(`C ${ci.version} ${hex(ci.appHash)} ${mode}`);
    if (interval > 0) await new Promise((r) => setTimeout(r, interval));
  }
}

// --- the soak (parent) ------------------------------------------------------------------------

const log = (msg) => process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

async function buildHome(dir, history) {
  const v1Path = join(dir, 'home', 'application.db');
  mkdirSync(join(dir, 'home'), { recursive: true });
  const db = await openDb(v1Path);
  const ms = await MultiStoreV1.open(db, { stores: workload.names });
  for (let v = 1; v <= history; v++) await ms.commit(workload.blockFor(v), v);
  await db.close();
  cpSync(v1Path, join(dir, 'ref.db'), { recursive: true });
  return v1Path;
}

/** One node run: its reported lines, parsed as they arrive. */
function startNode(home, onCommit) {
  const args = [
    new URL(import.meta.url).pathname,
    '--child',
    '--home',
    home,
    ...['seed', 'stores', 'keys', 'throttle', 'interval', 'block-changes', 'thread'].flatMap((k) => [
      `--${k}`,
      String(opts[k]),
    ]),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const run = {
    child,
    phase: 'starting',
    lastLine: '',
    events: [],
    stderr: '',
    exited: false,
    code: null,
    progressLines: 0,
  };
  let buf = '';
  child.stdout.on('data', (d) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop();
    for (const line of lines) {
      run.lastLine = line;
      const [kind, a, b, c] = line.split(' ');
      if (kind === 'S') run.phase = b;
      else if (kind === 'P') {
        run.phase = a;
        if (opts.verbose && ++run.progressLines % 5 === 0) log(`node: ${line}`);
      } else if (kind === 'C') onCommit(Number(a), b, c);
      else if (kind === 'E') {
        run.events.push(line);
        if (a === 'switched') run.phase = 'switched';
        if (a === 'failed') run.phase = 'failed';
      }
    }
  });
  child.stderr.on('data', (d) => {
    run.stderr += d.toString();
  });
  run.exit = new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      run.exited = true;
      run.code = code ?? signal;
      resolve(run.code);
    }),
  );
  return run;
}

async function runSoak() {
  const minutes = num('minutes');
  const killEvery = num('kill-every');
  const history = Math.max(1, Math.round(num('history')));
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'store-migrate-soak-'));
  const rand = rng(num('seed') * 31 + 7);
  const started = Date.now();
  log(
    `building a v1 of ${workload.names.length} stores x ${num('keys')} keys, ${history} versions in ${dir}`,
  );
  const v1Path = await buildHome(dir, history);
  const home = join(dir, 'home');
  const buildMs = Date.now() - started;

  const refDb = await openDb(join(dir, 'ref.db'));
  const ref = await MultiStoreV1.open(refDb);
  /** Every version a node reported as committed, with the app hash it reported. */
  const reported = new Map();
  const mismatches = [];
  let refQueue = Promise.resolve();
  // The reference follows the node live: a divergence shows up at the height where it happens.
  const onCommit = (version, appHash, mode) => {
    if (reported.has(version) && reported.get(version).appHash !== appHash) {
      mismatches.push({ version, kind: 'reported twice with different app hashes' });
    }
    reported.set(version, { appHash, mode });
    refQueue = refQueue.then(async () => {
      while (ref.latestVersion < version)
        await ref.commit(workload.blockFor(ref.latestVersion + 1), ref.latestVersion + 1);
      const expected = hex((await ref.getCommitInfo(version)).appHash);
      if (expected !== appHash)
        mismatches.push({
          version,
          kind: 'live app hash differs from the reference',
          expected,
          got: appHash,
        });
    });
  };

  const deadline = Date.now() + minutes * 60_000;
  const kills = [];
  const failures = [];
  let runs = 0;
  let lastPhase = 'starting';
  log(`soaking for ${minutes} min, a SIGKILL about every ${killEvery} s`);
  while (Date.now() < deadline) {
    const run = startNode(home, onCommit);
    runs++;
    const delay = Math.min(deadline - Date.now(), killEvery * 1000 * (0.5 + rand()));
    const outcome = await Promise.race([
      run.exit.then(() => 'exited'),
      new Promise((r) => setTimeout(r, Math.max(0, delay))).then(() => 'kill'),
    ]);
    if (outcome === 'exited') {
      failures.push({
        run: runs,
        exit: run.code,
        stderr: run.stderr.trim().split('\n').slice(-5).join(' | '),
      });
      log(`node exited by itself (${run.code}): ${run.stderr.trim().split('\n').slice(-3).join(' | ')}`);
      if (failures.length >= 3) break;
      continue;
    }
    run.child.kill('SIGKILL');
    await run.exit;
    lastPhase = run.phase;
    for (const e of run.events) if (e.startsWith('E failed')) failures.push({ run: runs, event: e });
    kills.push({
      atMs: Date.now() - started - buildMs,
      phase: run.phase,
      last: run.lastLine.split(' ').slice(0, 2).join(' '),
    });
    log(`kill ${kills.length} in phase ${run.phase} (reported up to ${Math.max(0, ...reported.keys())})`);
  }
  await refQueue;

  // A restarted node opens the home: every reported version must be there, as reported.
  log('verifying the home as a restarted node opens it');
  const v1 = await openDb(v1Path);
  const v2 = await openDb(join(home, 'v2'));
  const rs = await RootStore.open(v1, v2, { migrate: false });
  const latest = rs.latestVersion;
  const lost = [];
  for (const [version, r] of [...reported].sort((a, b) => a[0] - b[0])) {
    let got;
    try {
      got = hex((await rs.commitInfo(version)).appHash);
    } catch (err) {
      got = `missing (${err.code ?? err.message})`;
    }
    if (got !== r.appHash) lost.push({ version, reported: r.appHash, got });
  }
  while (ref.latestVersion < latest)
    await ref.commit(workload.blockFor(ref.latestVersion + 1), ref.latestVersion + 1);
  const discontinuities = [];
  for (let v = 1; v <= latest; v++) {
    const [a, b] = [hex((await rs.commitInfo(v)).appHash), hex((await ref.getCommitInfo(v)).appHash)];
    if (a !== b) discontinuities.push({ version: v, node: a, reference: b });
  }
  // A few reads at the latest height, through the node's routing.
  let readsChecked = 0;
  for (const store of workload.names) {
    for (const i of [0, 1, 777, Math.floor(num('keys') / 2), num('keys') - 1, num('keys') + 5]) {
      const [a, b] = [
        await rs.query(store, workload.keyOf(i), latest),
        await ref.query(store, workload.keyOf(i), latest),
      ];
      if ((a.value === undefined ? '-' : hex(a.value)) !== (b.value === undefined ? '-' : hex(b.value)))
        discontinuities.push({ version: latest, store, key: i, kind: 'query differs' });
      readsChecked++;
    }
  }
  const status = rs.status();
  await rs.close();
  await v1.close();
  await v2.close();
  await refDb.close();

  const byPhase = {};
  for (const k of kills) byPhase[k.phase] = (byPhase[k.phase] ?? 0) + 1;
  const summary = {
    ok: lost.length === 0 && discontinuities.length === 0 && mismatches.length === 0 && failures.length === 0,
    minutes,
    durationMs: Date.now() - started,
    buildMs,
    v1: { stores: workload.names.length, keysPerStore: num('keys'), history },
    thread: opts.thread,
    runs,
    killsSurvived: kills.length,
    killsByPhase: byPhase,
    versionsReported: reported.size,
    latestVersion: latest,
    switchedAtVersion: status.switchedAtVersion ?? null,
    // Where the node was when it was last killed (the verifying open does not migrate).
    finalPhase: status.switchedAtVersion !== undefined ? 'switched' : lastPhase,
    lostChangesets: lost.length,
    lost: lost.slice(0, 10),
    appHashContinuity: discontinuities.length === 0 && mismatches.length === 0,
    heightsChecked: latest,
    readsChecked,
    discontinuities: [...mismatches, ...discontinuities].slice(0, 10),
    failures,
    dir: opts.keep ? dir : undefined,
  };
  if (!opts.keep && opts.dir === undefined) rmSync(dir, { recursive: true, force: true });
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  } else {
    const phases = Object.entries(byPhase)
      .map(([p, n]) => `${p} ${n}`)
      .join(', ');
    console.log(
      [
        `soak ${summary.ok ? 'PASSED' : 'FAILED'} after ${(summary.durationMs / 60_000).toFixed(1)} min (v1 build ${(buildMs / 1000).toFixed(1)} s)`,
        `  v1:                 ${summary.v1.stores} stores x ${summary.v1.keysPerStore} keys, ${history} versions`,
        `  node runs:          ${runs}`,
        `  kills survived:     ${kills.length} (${phases || 'none'})`,
        `  versions reported:  ${reported.size} (latest ${latest}, switched at ${summary.switchedAtVersion ?? 'not yet'}, phase ${summary.finalPhase})`,
        `  lost changesets:    ${lost.length}`,
        `  app-hash continuity: ${summary.appHashContinuity ? 'holds' : 'BROKEN'} (${latest} heights, ${readsChecked} reads against the reference)`,
        `  node failures:      ${failures.length}`,
        ...(summary.dir ? [`  kept:               ${summary.dir}`] : []),
      ].join('\n'),
    );
    for (const l of lost.slice(0, 5)) console.log(`  lost: ${JSON.stringify(l)}`);
    for (const d of summary.discontinuities.slice(0, 5)) console.log(`  discontinuity: ${JSON.stringify(d)}`);
    for (const f of failures.slice(0, 5)) console.log(`  failure: ${JSON.stringify(f)}`);
  }
  process.exitCode = summary.ok ? 0 : 1;
}

if (opts.child) await runChild();
else await runSoak();
