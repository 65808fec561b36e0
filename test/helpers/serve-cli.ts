import { type ChildProcess, spawn } from 'node:child_process';
import { afterEach } from 'vitest';
import { CLI_BIN } from './run-cli.js';

// `store-migrate serve` as an operator starts it, and its JSON-RPC over HTTP.
export interface Serving {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** Starts `serve` and resolves once it reports its URL (on stdout, or in its stderr log with --json). */
export function serve(args: string[]): Promise<Serving> {
  const child = spawn(process.execPath, [CLI_BIN, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL after 10 s\n${out}\n${err}`)), 10_000);
    const check = () => {
      const m = /listening on (http:\/\/\S+)/.exec(out) ?? /"url":"(http:\/\/[^"]+)"/.exec(err);
      if (!m) return;
      clearTimeout(timer);
      resolve({ child, url: m[1], stdout: () => out, stderr: () => err, exit });
    };
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      check();
    });
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      check();
    });
    exit.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code} before serving\n${out}\n${err}`));
    });
  });
}

export async function rpc(url: string, method: string, params?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const body = (await res.json()) as { result: Record<string, unknown> };
  return body.result;
}
