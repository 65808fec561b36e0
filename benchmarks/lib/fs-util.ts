import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LevelDatabase } from '../../src/db/kv-db.js';

/** A fresh directory under os.tmpdir(); remove it with `removeDir`. */
export async function makeTempDir(label: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `store-migrate-bench-${label}-`));
}

export async function removeDir(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}

export interface DirSize {
  /** Sum of file sizes. */
  bytes: number;
  /** Allocated blocks, as `du` counts them. */
  diskBytes: number;
  files: number;
}

/** Size of a directory tree on disk (like `du -s`, plus the apparent size). */
export async function dirSize(path: string): Promise<DirSize> {
  const out: DirSize = { bytes: 0, diskBytes: 0, files: 0 };
  const entries = await readdir(path, { withFileTypes: true });
  for (const e of entries) {
    const p = join(path, e.name);
    if (e.isDirectory()) {
      const sub = await dirSize(p);
      out.bytes += sub.bytes;
      out.diskBytes += sub.diskBytes;
      out.files += sub.files;
    } else if (e.isFile()) {
      const s = await stat(p);
      out.bytes += s.size;
      out.diskBytes += s.blocks * 512;
      out.files++;
    }
  }
  return out;
}

/**
 * Temporary directories of one run and the databases open in them: `removeAll()` at the end
 * (even on failure) closes what is still open, then removes the directories.
 */
export class TempDirs {
  readonly #dirs: string[] = [];
  readonly #dbs: LevelDatabase[] = [];

  async make(label: string): Promise<string> {
    const d = await makeTempDir(label);
    this.#dirs.push(d);
    return d;
  }

  /** Registers a database for closing; returns it. */
  track<T extends LevelDatabase>(db: T): T {
    this.#dbs.push(db);
    return db;
  }

  /** Closes every registered database now (a failure to close is an error here). */
  async closeDbs(): Promise<void> {
    for (const db of this.#dbs.splice(0)) if (db.status === 'open') await db.close();
  }

  async removeAll(): Promise<void> {
    for (const db of this.#dbs.splice(0)) if (db.status === 'open') await db.close().catch(() => {});
    for (const d of this.#dirs.splice(0)) await removeDir(d);
  }
}
