import { cpus, loadavg, totalmem } from 'node:os';
import { type GitInfo, gitInfo } from './git.js';

/** The machine a result was measured on; the load averages say how busy it was. */
export interface MachineInfo {
  node: string;
  v8: string;
  platform: string;
  arch: string;
  cpu: string;
  cores: number;
  memBytes: number;
  /** 1-minute load average at the start and at the end: other work on the machine skews the figures. */
  loadAvg1m: [number, number];
}

/** Monotonic microseconds, the clock of V8's .cpuprofile sample timestamps. */
export function monoUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export function load1m(): number {
  return Math.round(loadavg()[0] * 100) / 100;
}

export function machineInfo(loadStart: number): MachineInfo {
  const cpu = cpus();
  return {
    node: process.version,
    v8: process.versions.v8,
    platform: process.platform,
    arch: process.arch,
    cpu: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    memBytes: totalmem(),
    loadAvg1m: [loadStart, load1m()],
  };
}

/** One timed phase: wall time, and the 1-minute load average when it started and ended. */
export interface PhaseTiming {
  elapsedMs: number;
  loadAvg1m: [number, number];
  /**
   * CPU time of the whole process (every thread: workers, LevelDB's, V8's) over the wall
   * time: how many cores the phase kept busy on average.
   */
  cores: number;
}

/**
 * Records phases: their wall time, load average, and their start and end on the monotonic
 * clock (`marks`, microseconds), so that `profile-summary.js --results` can split a
 * `node --cpu-prof` profile by phase.
 */
export class PhaseClock {
  readonly marks: Record<string, [number, number]> = {};

  async time<T>(name: string, fn: () => Promise<T>): Promise<{ value: T; timing: PhaseTiming }> {
    const load = load1m();
    const mark = monoUs();
    const cpu = process.cpuUsage();
    const t = performance.now();
    const value = await fn();
    const elapsedMs = performance.now() - t;
    const used = process.cpuUsage(cpu);
    this.marks[name] = [mark, monoUs()];
    const cores = elapsedMs > 0 ? (used.user + used.system) / 1000 / elapsedMs : 0;
    return { value, timing: { elapsedMs, loadAvg1m: [load, load1m()], cores } };
  }
}

/** The header lines of every scenario's table. */
export function headerLines(
  title: string,
  date: string,
  machine: MachineInfo,
  git: GitInfo,
  extra: string[] = [],
): string {
  return [
    `${title}, ${date.slice(0, 10)}`,
    `node ${machine.node}, ${machine.cpu} (${machine.cores} cores)`,
    `load average (1 min) ${machine.loadAvg1m.map((x) => x.toFixed(2)).join(' -> ')}`,
    `commit ${git.commit.slice(0, 12)}${git.srcDirty === true ? ' with uncommitted src/ changes' : ''}`,
    ...extra,
  ].join('\n');
}

export { type GitInfo, gitInfo };

/** A target met or missed. `higher`: the figure must be at least the target, else at most. */
export interface TargetCheck {
  name: string;
  value: number;
  target: number;
  better: 'higher' | 'lower';
  pass: boolean;
}

export function target(name: string, value: number, goal: number, better: 'higher' | 'lower'): TargetCheck {
  return { name, value, target: goal, better, pass: better === 'higher' ? value >= goal : value <= goal };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
