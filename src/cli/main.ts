import { Command, CommanderError, Option } from 'commander';
import { StoreMigrateError } from '../errors.js';
import { runApply } from './apply.js';
import { EXIT_USAGE, exitCodeFor, formatError, type GlobalOptions } from './cli-context.js';
import { runDemo } from './demo.js';
import { runGenerate } from './generate.js';
import { runInspect } from './inspect.js';
import { runMigrate } from './migrate.js';
import { checkLogFile } from './options.js';
import { runServe } from './serve.js';
import { runStatus } from './status.js';
import { runVerify } from './verify.js';

/** Commands in the contract (ARCHITECTURE.md). Those not built yet say so and exit 2. */
interface CommandSpec {
  name: string;
  summary: string;
  options: Array<[flags: string, description: string]>;
  run?: (opts: Record<string, unknown> & GlobalOptions) => Promise<number>;
}

/**
 * The flags of the commands that run a node: how its background migration runs. Their
 * defaults are RootStore's (journal off, nice 0) for serve; the demo's depend on its layout.
 */
const WORKER_FLAGS: Array<[string, string]> = [
  ['--no-worker', "run the migration on the node's thread instead of a worker thread"],
  ['--changeset-journal', 'commits do not wait for the worker (for blocks seconds apart)'],
  ['--no-changeset-journal', 'commits wait for the worker to buffer their changeset'],
  ['--worker-nice <n>', "the worker thread's nice value on Linux, 0 to 19"],
];

const commands: CommandSpec[] = [
  {
    name: 'generate',
    summary: 'write a synthetic v1 state with history',
    options: [
      ['--v1 <dir>', 'v1 database directory (or a node home application.db)'],
      ['--stores <n>', 'number of stores'],
      ['--keys <n>', 'total number of keys'],
      ['--versions <n>', 'number of versions of history'],
      ['--seed <n>', 'random seed'],
      ['--layout <layout>', 'tree layout: legacy (cosmos-sdk up to v0.47, the default) or node-key (v0.50+)'],
    ],
    run: runGenerate,
  },
  {
    name: 'apply',
    summary: 'commit newline-delimited JSON changesets, one version each',
    options: [
      ['--v1 <dir>', 'v1 database directory (created if absent)'],
      ['--changesets <file>', 'JSONL file of changesets'],
    ],
    run: runApply,
  },
  {
    name: 'inspect',
    summary: 'show what a v1 database holds',
    options: [
      ['--v1 <dir>', 'v1 database directory'],
      ['--version <n>', 'version to inspect (default: latest)'],
    ],
    run: runInspect,
  },
  {
    name: 'migrate',
    summary: 'migrate v1 into v2 offline; resumes if interrupted',
    options: [
      ['--v1 <dir>', 'v1 database directory'],
      ['--v2 <dir>', 'v2 directory'],
      ['--version <n>', 'version to migrate (default: latest)'],
      ['--history <k>', 'also carry the last K versions into StateStorage'],
      ['--throttle <n>', 'at most N leaves per second'],
    ],
    run: runMigrate,
  },
  {
    name: 'verify',
    summary: 'compare v1 and v2 in both directions and their root hashes',
    options: [
      ['--v1 <dir>', 'v1 database directory'],
      ['--v2 <dir>', 'v2 directory'],
      ['--version <n>', 'version to compare (default: latest migrated)'],
    ],
    run: runVerify,
  },
  {
    name: 'status',
    summary: 'migration phase and progress of a node home',
    options: [['--home <dir>', 'node home directory']],
    run: runStatus,
  },
  {
    name: 'demo',
    summary: 'run a simulated node that migrates in the background while it commits blocks',
    options: [
      ['--home <dir>', 'node home (default ./.store-migrate-demo)'],
      ['--stores <n>', 'number of stores'],
      ['--keys <n>', 'number of keys'],
      ['--layout <layout>', 'tree layout of the generated v1: node-key (v0.50+, the default) or legacy'],
      ['--blocks <n>', 'blocks to commit after the switch'],
      ['--block-keys <n>', 'changes per block'],
      ['--block-interval-ms <n>', 'time between blocks'],
      ['--rpc-port <port>', 'serve JSON-RPC during the run'],
      ['--throttle <n>', 'at most N leaves per second for the migration (default: none)'],
      ['--blocks-before <n>', 'blocks committed before the migration starts (default 10)'],
      ...WORKER_FLAGS,
    ],
    run: runDemo,
  },
  {
    name: 'serve',
    summary: 'open a node home, migrate in the background, switch over, and serve JSON-RPC',
    options: [
      ['--home <dir>', 'node home directory'],
      ['--host <host>', 'bind address (default 127.0.0.1)'],
      ['--port <port>', 'port (default 8547; 0 picks a free one)'],
      ['--throttle <n>', 'at most N leaves per second during the background restore'],
      ...WORKER_FLAGS,
    ],
    run: runServe,
  },
];

function notBuilt(name: string): never {
  throw new StoreMigrateError('ERR_NOT_IMPLEMENTED', `the ${name} command is not built yet`);
}

/** Builds the program; a command's exit code is handed to `onExit`. */
export function buildProgram(onExit: (code: number) => void = () => {}): Command {
  const program = new Command('store-migrate')
    .description(
      'Move a Cosmos node from store v1 to store v2 in the background, with the app hash unchanged.',
    )
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const spec of commands) {
    const cmd = program.command(spec.name).description(spec.summary).exitOverride();
    for (const [flags, description] of spec.options) cmd.addOption(new Option(flags, description));
    cmd
      .option('--json', 'print one JSON document with the result on stdout')
      .option('--no-progress', 'no progress bar or periodic progress lines')
      .option('--verbose', 'debug logs and stack traces')
      .option('--log-file <path>', 'append logs (pino JSON) to this file instead of stderr');
    cmd.action(async (opts: Record<string, unknown> & GlobalOptions) => {
      // Every command checks the log file first, so a bad path fails before any work starts.
      checkLogFile(opts, spec.name);
      onExit(spec.run ? await spec.run(opts) : notBuilt(spec.name));
    });
  }
  return program;
}

export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = buildProgram((c) => {
    code = c;
  });
  const verbose = argv.includes('--verbose');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are successes; every other parse error is a usage error.
      if (
        err.code === 'commander.helpDisplayed' ||
        err.code === 'commander.version' ||
        err.code === 'commander.help'
      ) {
        return 0;
      }
      return EXIT_USAGE;
    }
    process.stderr.write(`${formatError(err, verbose)}\n`);
    return exitCodeFor(err);
  }
}
