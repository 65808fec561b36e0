import { execFileSync } from 'node:child_process';

export interface GitInfo {
  /** HEAD commit of the checkout the benchmark ran in, or 'unknown' outside git. */
  commit: string;
  /** Whether src/ had uncommitted changes (the figures then describe no commit exactly). */
  srcDirty: boolean | 'unknown';
}

/** Which source the figures describe: HEAD of the current directory's checkout. */
export function gitInfo(): GitInfo {
  try {
    const git = (...args: string[]): string =>
      execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return { commit: git('rev-parse', 'HEAD'), srcDirty: git('status', '--porcelain', '--', 'src') !== '' };
  } catch {
    return { commit: 'unknown', srcDirty: 'unknown' };
  }
}
