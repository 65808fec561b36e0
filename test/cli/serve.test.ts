import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDb } from '../../src/db/open-db.js';
import { runCli } from '../helpers/run-cli.js';
import { rpc, serve } from '../helpers/serve-cli.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import { buildV1 } from '../helpers/v1-builder.js';

const tempDir = useTempDirs();

/** A node home holding a small v1 history, nothing migrated yet. */
async function makeHome(): Promise<string> {
  const home = join(tempDir('serve'), 'home');
  const db = await openDb(join(home, 'application.db'));
  await buildV1(db, { stores: ['acc', 'bank'], keysPerStore: 500, versions: 4 });
  await db.close();
  return home;
}

async function waitForSwitch(url: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const s = await rpc(url, 'migration_status');
    if (s.phase === 'switched' || Date.now() > deadline) return s;
    await new Promise((r) => setTimeout(r, 25));
  }
}

const STACK = /\n\s+at /;

describe('serve', () => {
  it('migrates a home in the background, serves RPC meanwhile, and stops cleanly on SIGTERM', async () => {
    const home = await makeHome();
    const s = await serve(['--home', home, '--port', '0']);
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const status = await waitForSwitch(s.url);
    expect(status).toMatchObject({ phase: 'switched', latestVersion: 4, switchedAtVersion: 4 });
    expect(await (await fetch(`${s.url}/health`)).json()).toEqual({
      ok: true,
      phase: 'switched',
      latestVersion: 4,
    });
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(metrics).toMatch(/^store_migrate_phase\{phase="switched"\} 1$/m);
    expect(metrics).toMatch(/^process_cpu_user_seconds_total /m);

    s.child.kill('SIGTERM');
    expect(await s.exit).toBe(0);
    const lines = s.stdout().trim().split('\n');
    expect(lines).toEqual([
      `listening on ${s.url}`,
      'stopped on SIGTERM: phase switched, latest version 4, switched after 4',
    ]);
    // stderr is pino JSON lines, and no stack traces.
    for (const line of s.stderr().trim().split('\n')) expect(() => JSON.parse(line), line).not.toThrow();
    expect(s.stderr()).toMatch(/"msg":"stopped"/);

    // The home is closed and switched: status reads it.
    const st = runCli(['status', '--home', home, '--json']);
    expect(st.code, st.stderr).toBe(0);
    expect(JSON.parse(st.stdout)).toMatchObject({
      phase: 'switched',
      latestVersion: 4,
      switchedAtVersion: 4,
    });
  });

  it('SIGTERM during the restore closes cleanly (exit 0), and the next start resumes the migration', async () => {
    const home = join(tempDir('serve'), 'home');
    const db = await openDb(join(home, 'application.db'));
    await buildV1(db, { stores: ['acc', 'bank'], keysPerStore: 4000, versions: 2 });
    await db.close();
    const first = await serve(['--home', home, '--port', '0', '--throttle', '2000']);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const st = (await rpc(first.url, 'migration_status')) as {
        phase: string;
        progress: { leavesDone?: number };
      };
      if (st.phase === 'restoring' && (st.progress.leavesDone ?? 0) > 0) break;
      if (Date.now() > deadline) throw new Error(`never restoring: ${JSON.stringify(st)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    first.child.kill('SIGTERM');
    expect(await first.exit).toBe(0);
    const atRest = JSON.parse(runCli(['status', '--home', home, '--json']).stdout);
    expect(atRest.phase).toBe('restoring');

    const second = await serve(['--home', home, '--port', '0']);
    expect(await waitForSwitch(second.url)).toMatchObject({ phase: 'switched' });
    second.child.kill('SIGTERM');
    expect(await second.exit).toBe(0);
    // The restore picked up from its checkpoint rather than starting over.
    expect(second.stderr()).toMatch(/"resumed":true[^\n]*"msg":"restore done"/);
  });

  it('with --json prints one JSON summary on stdout at the end (SIGINT)', async () => {
    const home = await makeHome();
    const s = await serve(['--home', home, '--port', '0', '--json', '--no-progress']);
    await waitForSwitch(s.url);
    s.child.kill('SIGINT');
    expect(await s.exit).toBe(0);
    expect(JSON.parse(s.stdout())).toMatchObject({
      home,
      url: s.url,
      signal: 'SIGINT',
      phase: 'switched',
      latestVersion: 4,
      switchedAtVersion: 4,
    });
  });

  it('with --log-file, its logs and the RPC server logs go to the file, and stderr stays empty', async () => {
    const home = await makeHome();
    const logFile = join(tempDir('serve-log'), 'serve.log');
    const s = await serve(['--home', home, '--port', '0', '--verbose', '--log-file', logFile]);
    await waitForSwitch(s.url);
    expect((await fetch(`${s.url}/health`)).status).toBe(200);
    s.child.kill('SIGTERM');
    expect(await s.exit).toBe(0);
    expect(s.stderr()).toBe('');
    expect(s.stdout()).toMatch(/^listening on /);
    const lines = readFileSync(logFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const msgs = lines.map((l) => l.msg);
    expect(msgs).toContain('serving');
    expect(msgs).toContain('switched to store v2');
    expect(msgs.at(-1)).toBe('stopped');
    // Fastify's request log (--verbose), through the same logger.
    expect(lines.find((l) => l.msg === 'incoming request')).toMatchObject({ component: 'rpc', level: 30 });
  });

  it('a port in use: one clear error line, exit 2, and the home left untouched', async () => {
    const home = await makeHome();
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = runCli(['serve', '--home', home, '--port', String(port)], { timeoutMs: 20_000 });
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe(`ERR_PORT_IN_USE: port ${port} on 127.0.0.1 is in use`);
      expect(r.stdout).toBe('');
      expect(existsSync(join(home, 'v2'))).toBe(false);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it('a missing home is ERR_NOT_FOUND (exit 1); bad options are usage errors (exit 2)', () => {
    const dir = tempDir('serve-missing');
    const missing = runCli(['serve', '--home', join(dir, 'nope'), '--port', '0']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^ERR_NOT_FOUND: no node home at .*nope/);
    expect(missing.stderr).not.toMatch(STACK);
    // A directory that is not a home.
    const notHome = runCli(['serve', '--home', dir, '--port', '0']);
    expect(notHome.code).toBe(1);
    expect(notHome.stderr).toMatch(/^ERR_NOT_FOUND: .* has no application\.db/);
    for (const args of [
      [],
      ['--home', dir, '--port', 'abc'],
      ['--home', dir, '--port', '70000'],
      ['--home', dir, '--port', '-1'],
      ['--home', dir, '--port', '0', '--worker-nice', '20'],
      ['--home', dir, '--port', '0', '--no-worker', '--changeset-journal'],
    ]) {
      const r = runCli(['serve', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(/^ERR_USAGE: /);
      expect(r.stderr).not.toMatch(STACK);
    }
  });
});
