import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';

const CONTRACT = ['generate', 'apply', 'inspect', 'migrate', 'verify', 'status', 'demo', 'serve'];

describe('store-migrate binary', () => {
  it('prints usage listing every contract command', () => {
    const r = runCli(['--help']);
    expect(r.code).toBe(0);
    for (const c of CONTRACT) expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
  });

  it('exits 2 on an unknown command or option, without a stack trace', () => {
    for (const args of [['bogus'], ['inspect', '--bogus']]) {
      const r = runCli(args);
      expect(r.code).toBe(2);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
