import { headerLines, type MachineInfo } from './bench-env.js';
import { formatTable, type TableRow } from './format.js';
import type { GitInfo } from './git.js';

/** Options the runner parses once and hands to every scenario. */
export interface ScenarioOptions {
  /** Keys (or leaves) to generate; undefined: the scenario's default. `--keys`, alias `--leaves`. */
  keys?: number;
  /** Node cache in MiB where the scenario has one (`--cache-mib`); undefined: the library default. */
  cacheMiB?: number;
  /** PRNG seed; undefined: the scenario's default. */
  seed?: number;
  /** Blocks to commit where the scenario commits blocks (`--blocks`); undefined: the scenario's default. */
  blocks?: number;
  /** Changes per block (`--block-changes`); undefined: the scenario's default (1,000). */
  blockChanges?: number;
  /** Time from one block's start to the next (`--interval-ms`); undefined: the scenario's default. */
  intervalMs?: number;
  /** Where the migration runs (`--thread`; commit-latency and sync); undefined: the scenario's default. */
  thread?: 'worker' | 'main';
  /** RootStore's changesetJournal (`--journal`; commit-latency). */
  journal?: boolean;
  /** RootStore's workerNice (`--worker-nice`; commit-latency). */
  workerNice?: number;
  /** Tree layout of the v1 fixture (`--layout`; migrate, sync, commit-latency); undefined: legacy. */
  layout?: 'legacy' | 'node-key';
  /** The runner prints one JSON document instead of a table. */
  json: boolean;
  /** Progress lines; the runner sends them to stderr. */
  log: (line: string) => void;
}

export interface ScenarioOutput<R = unknown> {
  /** Everything measured, as written to benchmarks/results/<date>-<name>.json. */
  result: R;
  /** Whether every target was met. */
  pass: boolean;
  /** The human-readable report (a table). */
  text: string;
}

/** One benchmark scenario: one file under benchmarks/, registered in run.ts. */
export interface Scenario<R = unknown> {
  name: string;
  description: string;
  run(options: ScenarioOptions): Promise<ScenarioOutput<R>>;
}

/** What every scenario's result carries for the report header. */
interface Reported {
  date: string;
  machine: MachineInfo;
  git: GitInfo;
  pass: boolean;
}

/** A scenario's output: its result, whether it passed, and the header and table as text. */
export function scenarioOutput<R extends Reported>(
  title: string,
  result: R,
  rows: TableRow[],
): ScenarioOutput<R> {
  return {
    result,
    pass: result.pass,
    text: `${headerLines(title, result.date, result.machine, result.git)}

${formatTable(rows)}`,
  };
}
