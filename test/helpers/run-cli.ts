import { spawnSync } from 'node:child_process';

// `npm test` builds first (pretest), so tests exercise the real binary as an operator runs it.
export const CLI_BIN = new URL('../../dist/cli/bin.js', import.meta.url).pathname;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  options: { input?: string; cwd?: string; timeoutMs?: number } = {},
): CliResult {
  const r = spawnSync(process.execPath, [CLI_BIN, ...args], {
    encoding: 'utf8',
    input: options.input,
    cwd: options.cwd,
    timeout: options.timeoutMs ?? 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
