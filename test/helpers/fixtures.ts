import { chmodSync, cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const FIXTURES = new URL('../fixtures/', import.meta.url).pathname;

/** Copies a fixture database into a fresh temporary directory: LevelDB rewrites what it opens. */
export function copyFixture(name: string): { path: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'fixture-'));
  const path = join(dir, name.split('/').at(-1)!);
  cpSync(join(FIXTURES, name), path, { recursive: true });
  chmodSync(path, 0o755);
  for (const f of readdirSync(path)) chmodSync(join(path, f), 0o644);
  return { path, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
