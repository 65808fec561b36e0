import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { StoreMigrateError } from '../errors.js';
import { homePaths } from '../v2/root/node-home.js';

/** The file that marks a directory as made by `store-migrate demo`, so a later demo may wipe it. */
export const DEMO_MARKER = 'store-migrate-demo.json';

/** Where a demo's data lives. */
export interface DemoPaths {
  home: string;
  /** Store v1 of the simulated node. */
  v1: string;
  /** Store v2 of the simulated node. */
  v2: string;
  /** A copy of v1 taken before the node ran, fed the same blocks without any migration. */
  reference: string;
}

export function demoPaths(home: string): DemoPaths {
  const abs = resolve(home);
  const { v1Path, v2Path } = homePaths(abs);
  return { home: abs, v1: v1Path, v2: v2Path, reference: join(abs, 'reference.db') };
}

/**
 * Makes `home` ready for a demo: creates it when missing, wipes it when an earlier demo
 * made it (it holds the marker), and refuses any other non-empty directory, so a demo never
 * deletes data it did not write. Writes the marker before anything else.
 */
export function prepareDemoHome(home: string): DemoPaths {
  const paths = demoPaths(home);
  const dir = paths.home;
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) {
      throw new StoreMigrateError('ERR_INVALID_PARAMS', `${dir} is not a directory; pass another --home`, {
        details: { home: dir },
      });
    }
    const entries = readdirSync(dir);
    if (entries.length > 0 && !entries.includes(DEMO_MARKER)) {
      throw new StoreMigrateError(
        'ERR_INVALID_PARAMS',
        `${dir} is not empty and was not made by store-migrate demo (no ${DEMO_MARKER}); pass a new or empty --home`,
        { details: { home: dir } },
      );
    }
    // The marker goes last, so a wipe cut short still leaves the directory recognisable.
    for (const e of entries) if (e !== DEMO_MARKER) rmSync(join(dir, e), { recursive: true, force: true });
  } else {
    mkdirSync(dir, { recursive: true });
  }
  writeFileSync(
    join(dir, DEMO_MARKER),
    `${JSON.stringify({ createdBy: 'store-migrate demo', createdAt: new Date().toISOString() }, null, 2)}\n`,
  );
  return paths;
}
