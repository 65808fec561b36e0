import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Scenario } from './lib/scenario.js';

/**
 * Benchmark runner: `npm run bench -- <scenario> [--keys N | --leaves N] [--seed N] [--cache-mib N] [--json] [--out FILE] [--no-save]`.
 * Each scenario lives in its own file and is loaded only when asked for.
 */
const SCENARIOS: Record<string, () => Promise<Scenario>> = {
  iavl: async () => (await import('./iavl.js')).iavlScenario as Scenario,
  migrate: async () => (await import('./migrate.js')).migrateScenario as Scenario,
  memory: async () => (await import('./memory.js')).memoryScenario as Scenario,
  'commit-latency': async () => (await import('./commit-latency.js')).commitLatencyScenario as Scenario,
  sync: async () => (await import('./sync.js')).syncScenario as Scenario,
};

const USAGE = `usage: npm run bench -- <scenario> [options]

scenarios: ${Object.keys(SCENARIOS).join(', ')}

options:
  --keys N       keys (or leaves) to generate (default: the scenario's: iavl 100000, migrate and
                 memory 1000000 (memory also runs 4x that), commit-latency and sync 500000)
  --leaves N     alias of --keys
  --seed N       PRNG seed (default 1)
  --cache-mib N  IAVL node cache per tree in MiB (iavl only; default: the library's, 64)
  --blocks N     blocks to commit (commit-latency: default 1000; sync: default 200)
  --block-changes N  changes per block (commit-latency, sync; default 1000), or sets per
                     saveVersion and puts per mpt commit (iavl; default 1000)
  --interval-ms N    time from one block's start to the next (commit-latency; default 0: back to back)
  --thread T     worker or main: where the migration runs (commit-latency, sync, memory; default worker)
  --journal      commit-latency: RootStore's changesetJournal on (each changeset durable on the node thread)
  --worker-nice N    commit-latency: RootStore's workerNice, the worker thread's nice value (Linux; default 0)
  --layout L     legacy or node-key: the tree layout of the v1 fixture (migrate, sync and
                 commit-latency; default legacy). migrate with node-key also runs the legacy
                 case in the same run, to compare per leaf
  --json         print exactly one JSON document on stdout (progress still goes to stderr)
  --out FILE     write the results to FILE instead (e.g. for a profiled run)
  --no-save      do not write benchmarks/results/<date>-<scenario>.json
  -h, --help     this text`;

/** Where results go: benchmarks/results, whether this runs from dist-bench/ or dist/. */
const RESULTS_DIR = fileURLToPath(new URL('../../benchmarks/results/', import.meta.url));

function positiveInt(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw.replaceAll('_', ''));
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, not ${raw}`);
  return n;
}

function nonNegativeInt(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new Error(`--${name} must be a non-negative integer, not ${raw}`);
  return n;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      keys: { type: 'string' },
      leaves: { type: 'string' },
      seed: { type: 'string' },
      'cache-mib': { type: 'string' },
      blocks: { type: 'string' },
      'block-changes': { type: 'string' },
      'interval-ms': { type: 'string' },
      layout: { type: 'string' },
      thread: { type: 'string' },
      journal: { type: 'boolean', default: false },
      'worker-nice': { type: 'string' },
      json: { type: 'boolean', default: false },
      'no-save': { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    console.error(USAGE);
    return 2;
  }
  const name = positionals[0];
  const load = SCENARIOS[name];
  if (load === undefined) {
    console.error(`unknown scenario ${JSON.stringify(name)}\n\n${USAGE}`);
    return 2;
  }
  if (values.keys !== undefined && values.leaves !== undefined && values.keys !== values.leaves) {
    throw new Error('--keys and --leaves are the same option; give one');
  }
  const keys = positiveInt(values.keys !== undefined ? 'keys' : 'leaves', values.keys ?? values.leaves);
  const seed = nonNegativeInt('seed', values.seed);
  const cacheMiB = positiveInt('cache-mib', values['cache-mib']);
  const blocks = positiveInt('blocks', values.blocks);
  const blockChanges = positiveInt('block-changes', values['block-changes']);
  const intervalMs = nonNegativeInt('interval-ms', values['interval-ms']);
  const workerNice = nonNegativeInt('worker-nice', values['worker-nice']);
  const json = values.json;
  const layout = values.layout;
  if (layout !== undefined && layout !== 'legacy' && layout !== 'node-key') {
    throw new Error(`--layout must be legacy or node-key, not ${layout}`);
  }

  const thread = values.thread;
  if (thread !== undefined && thread !== 'worker' && thread !== 'main') {
    throw new Error(`--thread must be worker or main, not ${thread}`);
  }

  const scenario = await load();
  const out = await scenario.run({
    keys,
    seed,
    cacheMiB,
    blocks,
    blockChanges,
    intervalMs,
    layout,
    thread,
    journal: values.journal,
    workerNice,
    json,
    log: (line) => console.error(`[${name}] ${line}`),
  });

  if (!values['no-save']) {
    const file = values.out ?? `${RESULTS_DIR}${new Date().toISOString().slice(0, 10)}-${name}.json`;
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, `${JSON.stringify(out.result, null, 2)}\n`);
    console.error(`[${name}] results written to ${file}`);
  }
  if (json) console.log(JSON.stringify(out.result, null, 2));
  else console.log(out.text);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exitCode = 1;
  },
);
