/** One row of a results table: a measured figure and, when there is one, its target. */
export interface TableRow {
  metric: string;
  value: string;
  target?: string;
  pass?: boolean;
}

/** A plain-text table, columns padded to fit. */
export function formatTable(rows: TableRow[]): string {
  const header = ['metric', 'value', 'target', 'pass'];
  const cells = rows.map((r) => [
    r.metric,
    r.value,
    r.target ?? '',
    r.pass === undefined ? '' : r.pass ? 'PASS' : 'FAIL',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]): string =>
    c
      .map((s, i) => (i === 1 ? s.padStart(widths[i]) : s.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

/** 1234567.8 -> "1,234,568". */
export function int(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

export function ms(n: number): string {
  return `${n.toFixed(0)} ms`;
}

export function perSec(count: number, elapsedMs: number): number {
  return elapsedMs > 0 ? (count * 1000) / elapsedMs : 0;
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}
