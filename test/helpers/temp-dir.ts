import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

/** A fresh temporary directory per call, removed after the current test. */
export function useTempDirs(): (name?: string) => string {
  const made: string[] = [];
  afterEach(() => {
    for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  return (name = 'sm') => {
    const d = mkdtempSync(join(tmpdir(), `${name}-`));
    made.push(d);
    return d;
  };
}
