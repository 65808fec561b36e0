import { createReadStream, existsSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { openDb } from '../db/open-db.js';
import { tryFromHex } from '../encoding/bytes.js';
import type { Changeset, KVPair } from '../encoding/changeset.js';
import { type ErrorCode, StoreMigrateError } from '../errors.js';
import type { Logger } from '../logger.js';
import { MultiStoreV1 } from '../v1/multi-store-v1.js';
import { EXIT_OK, printResult } from './cli-context.js';
import { type CommandOptions, commandLogger, requiredOption, v1PathState, withDatabase } from './options.js';
import { formatCount, ProgressLine } from './progress-line.js';
import { formatV1Summary, summarizeV1, type V1Summary } from './v1-summary.js';

/** `apply --json`: the inspect fields at the latest version, and how many versions were committed. */
export interface ApplyResult extends V1Summary {
  applied: number;
}

/** One changeset line, parsed and validated. */
export interface ChangesetLine {
  version: number;
  changeset: Changeset;
  /** Number of changes on the line. */
  changes: number;
}

const CHANGE_FIELDS = new Set(['store', 'key', 'value', 'delete']);

function lineError(
  line: number,
  message: string,
  code: ErrorCode = 'ERR_INVALID_CHANGESET',
): StoreMigrateError {
  return new StoreMigrateError(code, `line ${line}: ${message}`, { details: { line } });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parses one line of a changeset file:
 * `{"version": 7, "changes": [{"store": "bank", "key": "<hex>", "value": "<hex>"}, {"store": "bank", "key": "<hex>", "delete": true}]}`.
 * Changes keep their order within each store, so a later change to the same key wins.
 * Every problem is an ERR_INVALID_CHANGESET (ERR_EMPTY_KEY for an empty key) naming the line.
 */
export function parseChangesetLine(text: string, line: number): ChangesetLine {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw lineError(line, `not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!isObject(doc)) throw lineError(line, 'a changeset must be a JSON object');
  const version = doc.version;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    throw lineError(
      line,
      `"version" must be a positive integer, not ${JSON.stringify(version) ?? 'missing'}`,
    );
  }
  if (!Array.isArray(doc.changes)) {
    throw lineError(line, `"changes" must be an array, not ${JSON.stringify(doc.changes) ?? 'missing'}`);
  }
  const byStore = new Map<string, KVPair[]>();
  doc.changes.forEach((c: unknown, i: number) => {
    const where = `change ${i}`;
    if (!isObject(c)) throw lineError(line, `${where} must be an object`);
    for (const field of Object.keys(c)) {
      if (!CHANGE_FIELDS.has(field)) throw lineError(line, `${where} has an unknown field "${field}"`);
    }
    const { store, key, value } = c;
    const del = c.delete;
    if (typeof store !== 'string' || store.length === 0 || store.includes('/')) {
      throw lineError(
        line,
        `${where}: "store" must be a store name, not ${JSON.stringify(store) ?? 'missing'}`,
      );
    }
    if (typeof key !== 'string') throw lineError(line, `${where}: "key" must be a hex string`);
    const keyBytes = tryFromHex(key);
    if (keyBytes === undefined)
      throw lineError(line, `${where}: "key" is not hex: ${JSON.stringify(key.slice(0, 40))}`);
    if (keyBytes.length === 0)
      throw lineError(line, `${where}: empty key in store ${store}`, 'ERR_EMPTY_KEY');
    if (del !== undefined && typeof del !== 'boolean')
      throw lineError(line, `${where}: "delete" must be true or false`);
    let pair: KVPair;
    if (del === true) {
      if (value !== undefined) throw lineError(line, `${where}: a delete has no "value"`);
      pair = { key: keyBytes, remove: true };
    } else {
      if (typeof value !== 'string')
        throw lineError(line, `${where}: "value" must be a hex string (or set "delete": true)`);
      const valueBytes = tryFromHex(value);
      if (valueBytes === undefined) {
        throw lineError(line, `${where}: "value" is not hex: ${JSON.stringify(value.slice(0, 40))}`);
      }
      pair = { key: keyBytes, value: valueBytes };
    }
    const pairs = byStore.get(store);
    if (pairs === undefined) byStore.set(store, [pair]);
    else pairs.push(pair);
  });
  return {
    version,
    changeset: { changes: [...byStore].map(([store, pairs]) => ({ store, pairs })) },
    changes: doc.changes.length,
  };
}

interface FileLine {
  text: string;
  line: number;
  /** Bytes of the file read up to the end of this line. */
  bytes: number;
}

/** The file's lines, streamed (readline pauses the file while the caller works), blank lines skipped. */
async function* readLines(file: string): AsyncGenerator<FileLine> {
  const input = createReadStream(file);
  const rl = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let line = 0;
  let bytes = 0;
  try {
    for await (const text of rl) {
      line++;
      bytes += Buffer.byteLength(text) + 1;
      if (text.trim().length > 0) yield { text, line, bytes };
    }
  } finally {
    rl.close();
    input.destroy();
  }
}

/**
 * First pass for a new database: the stores named by the lines that will commit, i.e. up
 * to the first line that is malformed or out of sequence (the second pass stops there too).
 */
async function scanStores(file: string): Promise<string[]> {
  const stores = new Set<string>();
  let expected = 1;
  for await (const { text, line } of readLines(file)) {
    let parsed: ChangesetLine;
    try {
      parsed = parseChangesetLine(text, line);
    } catch {
      break; // the second pass stops at this line too, and reports its error
    }
    if (parsed.version !== expected++) break;
    for (const sc of parsed.changeset.changes) stores.add(sc.store);
  }
  return [...stores].sort();
}

/** Adds the line, and what was applied before it, to an error from committing or checking a line. */
function atLine(err: unknown, line: number, applied: number, latest: number): unknown {
  if (!(err instanceof StoreMigrateError)) return err;
  const message = err.message.startsWith(`line ${line}:`) ? err.message : `line ${line}: ${err.message}`;
  return new StoreMigrateError(
    err.code,
    `${message}; ${applied} version${applied === 1 ? '' : 's'} applied from this file before it`,
    { cause: err, details: { ...err.details, line, applied, latestVersion: latest } },
  );
}

/**
 * Commits each line of `file` as one version, in order. Lines are checked fully before their
 * commit, and each commit is atomic: on an error, the lines before stay committed.
 */
export async function applyChangesetFile(
  ms: MultiStoreV1,
  file: string,
  progress: ProgressLine,
  log: Logger,
): Promise<number> {
  const total = statSync(file).size;
  const known = new Set(ms.storeNames());
  let applied = 0;
  let changes = 0;
  for await (const { text, line, bytes } of readLines(file)) {
    try {
      const parsed = parseChangesetLine(text, line);
      for (const sc of parsed.changeset.changes) {
        if (!known.has(sc.store)) {
          throw lineError(
            line,
            `unknown store ${JSON.stringify(sc.store)} (the database has ${[...known].join(', ') || 'no stores'})`,
            'ERR_UNKNOWN_STORE',
          );
        }
      }
      const ci = await ms.commit(parsed.changeset, parsed.version);
      applied++;
      changes += parsed.changes;
      log.debug({ line, version: ci.version, changes: parsed.changes }, 'committed');
    } catch (err) {
      throw atLine(err, line, applied, ms.latestVersion);
    }
    progress.update({
      done: applied,
      fraction: total > 0 ? Math.min(1, bytes / total) : undefined,
      note: `version ${ms.latestVersion}, ${formatCount(changes)} changes`,
    });
  }
  return applied;
}

/** `apply --v1 DIR --changesets FILE`: commits newline-delimited JSON changesets, one version each. */
export async function runApply(opts: CommandOptions): Promise<number> {
  const path = requiredOption(opts, 'apply', 'v1', '--v1 <dir>');
  const file = requiredOption(opts, 'apply', 'changesets', '--changesets <file>');
  if (!existsSync(file) || !statSync(file).isFile()) {
    throw new StoreMigrateError('ERR_NOT_FOUND', `no changeset file at ${file}`, { details: { file } });
  }
  const log = commandLogger(opts);
  v1PathState(path); // refuses a directory with other files in it before LevelDB writes there
  const db = await openDb(path, { createIfMissing: true });
  return withDatabase(db, async () => {
    let ms = await MultiStoreV1.open(db);
    if (ms.layout === 'iavl') {
      throw new StoreMigrateError(
        'ERR_READ_ONLY',
        `${path} holds a bare iavl tree, not a multistore; apply writes only to a multistore`,
      );
    }
    if (ms.latestVersion === 0) {
      // A new store mounts every store the file uses, from version 1 on.
      const stores = await scanStores(file);
      log.debug({ stores }, 'new database');
      ms = await MultiStoreV1.open(db, { stores });
    }
    const progress = new ProgressLine({ label: 'apply', unit: 'versions', enabled: opts.progress !== false });
    let applied: number;
    try {
      applied = await applyChangesetFile(ms, file, progress, log);
    } finally {
      progress.stop();
    }
    const summary =
      ms.latestVersion === 0 ? undefined : await summarizeV1(await MultiStoreV1.open(db, { readOnly: true }));
    const result: ApplyResult | { applied: number; latestVersion: number } = summary
      ? { ...summary, applied }
      : { applied, latestVersion: 0 };
    printResult(opts, result, () =>
      summary
        ? `applied ${applied} version${applied === 1 ? '' : 's'}\n\n${formatV1Summary(summary, path)}`
        : 'applied 0 versions: the file holds no changesets',
    );
    return EXIT_OK;
  });
}
