import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/**
 * Summarizes a V8 .cpuprofile (from `node --cpu-prof`): self time and total (inclusive)
 * time by function name + script, over the whole run or per benchmark phase.
 *
 *   node dist-bench/benchmarks/profile-summary.js <file.cpuprofile> [--results r.json] [--top N]
 *
 * With --results, the `marks` of a benchmark result (monotonic microseconds, the profile's
 * clock) split the samples by phase.
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

interface Sample {
  node: number;
  at: number;
  duration: number;
}

const cwd = process.cwd();

function shortUrl(url: string): string {
  if (url === '') return '';
  if (url.startsWith('file://')) {
    const path = fileURLToPath(url);
    const nm = path.lastIndexOf('/node_modules/');
    if (nm >= 0) return path.slice(nm + '/node_modules/'.length);
    return relative(cwd, path).replace(/^dist-bench\//, '');
  }
  return url;
}

function label(f: CallFrame): string {
  const name = f.functionName === '' ? '(anonymous)' : f.functionName;
  const url = shortUrl(f.url);
  return url === '' ? name : `${name}  ${url}:${f.lineNumber + 1}`;
}

/** Where a function lives: this library, the mpt packages, LevelDB, Node itself, V8. */
function category(f: CallFrame): string {
  const url = f.url;
  if (url === '') return f.functionName.startsWith('(') ? f.functionName : 'native/V8';
  if (url.includes('/dist-bench/src/') || url.includes('/dist/src/')) return 'store-migrate src/';
  if (url.includes('/dist-bench/benchmarks/')) return 'benchmarks/';
  if (url.includes('/@ethereumjs/') || url.includes('/@noble/') || url.includes('/lru-cache/'))
    return '@ethereumjs/mpt + deps';
  if (url.includes('level')) return 'classic-level/abstract-level';
  if (url.startsWith('node:')) return 'node: internals';
  return 'other';
}

function samplesOf(p: CpuProfile): Sample[] {
  const out: Sample[] = [];
  let at = p.startTime;
  const times: number[] = [];
  for (const d of p.timeDeltas) {
    at += d;
    times.push(at);
  }
  for (let i = 0; i < p.samples.length; i++) {
    const next = i + 1 < times.length ? times[i + 1] : p.endTime;
    out.push({ node: p.samples[i], at: times[i], duration: Math.max(0, next - times[i]) });
  }
  return out;
}

function top(map: Map<string, number>, n: number): Array<[string, number]> {
  return [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
}

function fmtMs(us: number): string {
  return `${(us / 1000).toFixed(0)} ms`.padStart(9);
}

function pct(part: number, whole: number): string {
  return `${whole > 0 ? ((100 * part) / whole).toFixed(1) : '0.0'}%`.padStart(6);
}

function summarize(p: CpuProfile, samples: Sample[], title: string, n: number): string {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of p.nodes) {
    byId.set(node.id, node);
    for (const c of node.children ?? []) parent.set(c, node.id);
  }
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const cats = new Map<string, number>();
  let sum = 0;
  for (const s of samples) {
    const node = byId.get(s.node);
    if (node === undefined) continue;
    sum += s.duration;
    const key = label(node.callFrame);
    self.set(key, (self.get(key) ?? 0) + s.duration);
    const cat = category(node.callFrame);
    cats.set(cat, (cats.get(cat) ?? 0) + s.duration);
    // Inclusive time: each function once per sample, however deep the recursion.
    const seen = new Set<string>();
    for (let id: number | undefined = s.node; id !== undefined; id = parent.get(id)) {
      const k = label(byId.get(id)!.callFrame);
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + s.duration);
    }
  }
  const lines: string[] = [`== ${title}: ${fmtMs(sum).trim()} sampled ==`, '', 'self time by category:'];
  for (const [k, v] of top(cats, 20)) lines.push(`${fmtMs(v)} ${pct(v, sum)}  ${k}`);
  lines.push('', `top ${n} self time (function, script:line):`);
  for (const [k, v] of top(self, n)) lines.push(`${fmtMs(v)} ${pct(v, sum)}  ${k}`);
  lines.push('', `top ${n} total time, store-migrate src/ functions only:`);
  const srcTotal = new Map([...total].filter(([k]) => k.includes(' src/')));
  for (const [k, v] of top(srcTotal, n)) lines.push(`${fmtMs(v)} ${pct(v, sum)}  ${k}`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { results: { type: 'string' }, top: { type: 'string', default: '25' } },
  });
  if (positionals.length !== 1) {
    console.error(
      'usage: node dist-bench/benchmarks/profile-summary.js <file.cpuprofile> [--results r.json] [--top N]',
    );
    process.exitCode = 2;
    return;
  }
  const profile = JSON.parse(await readFile(positionals[0], 'utf8')) as CpuProfile;
  const n = Number(values.top);
  const samples = samplesOf(profile);
  const out: string[] = [summarize(profile, samples, 'whole run', n)];
  if (values.results !== undefined) {
    const result = JSON.parse(await readFile(values.results, 'utf8')) as {
      marks?: Record<string, [number, number]>;
    };
    for (const [phase, [from, to]] of Object.entries(result.marks ?? {})) {
      const inPhase = samples.filter((s) => s.at >= from && s.at < to);
      out.push(summarize(profile, inPhase, `phase ${phase}`, n));
    }
  }
  console.log(out.join('\n\n'));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
