import { ClassicLevel } from 'classic-level';
import { NativeBatchPath } from '../../src/db/native-batch.js';

/**
 * A fault-injecting database for reliability tests: a real ClassicLevel on disk whose private
 * operations can, on demand, fail the Nth read or write (or every one from the Nth on) with an
 * ENOSPC- or EIO-like error, and be delayed. Being a ClassicLevel, it takes the code paths
 * production takes, the native write-batch path included (`nativeBatch: false` takes the
 * public batch path instead); its chained batches check the rules when they write.
 */

export type FaultKind = 'ENOSPC' | 'EIO';
export type FaultOp = 'read' | 'write';

/** One operation as a fault rule sees it: its kind and every key it touches. */
export interface OpInfo {
  op: FaultOp;
  /** get, getSync, getMany, iterator, put, del, batch or clear. */
  method: string;
  keys: Uint8Array[];
  /** A batch written through classic-level's native chained batch (WriteBatch's fast path). */
  native?: boolean;
}

export interface FaultRule {
  op: FaultOp;
  /** Which matching operation fails first, counted from when the rule was added (1-based, default 1). */
  nth?: number;
  /** How many matching operations fail from the nth on (default 1; Infinity: every one after). */
  times?: number;
  kind?: FaultKind;
  /**
   * Instead of failing, a write reports success and writes nothing: a broken write path
   * (silent data loss), which the suites must notice on their own.
   */
  drop?: boolean;
  /** Only operations for which this returns true count (default: all of the rule's kind). */
  match?: (info: OpInfo) => boolean;
}

/** A rule in force: how many operations it has seen and failed; remove() lifts it. */
export interface Fault {
  readonly seen: number;
  readonly fired: number;
  /** The injected errors, in order. */
  readonly errors: InjectedFault[];
  remove(): void;
}

/** The error a fault throws: shaped like a Node.js system error (code, errno, syscall). */
export class InjectedFault extends Error {
  readonly code: FaultKind;
  readonly errno: number;
  readonly syscall: string;
  readonly injected = true;

  constructor(kind: FaultKind, info: OpInfo) {
    const what = kind === 'ENOSPC' ? 'no space left on device' : 'i/o error';
    super(`${kind}: ${what}, ${info.method} (injected)`);
    this.name = 'InjectedFault';
    this.code = kind;
    this.errno = kind === 'ENOSPC' ? -28 : -5;
    this.syscall = info.op;
  }
}

class RuleState implements Fault {
  readonly rule: FaultRule;
  readonly #owner: Set<RuleState>;
  seen = 0;
  fired = 0;
  readonly errors: InjectedFault[] = [];

  constructor(rule: FaultRule, owner: Set<RuleState>) {
    this.rule = rule;
    this.#owner = owner;
  }

  /** The error to throw for this operation, if this rule fails it ('drop' for a dropped write). */
  check(info: OpInfo): InjectedFault | 'drop' | undefined {
    if (info.op !== this.rule.op) return undefined;
    if (this.rule.match && !this.rule.match(info)) return undefined;
    this.seen++;
    const nth = this.rule.nth ?? 1;
    const times = this.rule.times ?? 1;
    if (this.seen < nth || this.seen >= nth + times) return undefined;
    this.fired++;
    if (this.rule.drop && info.op === 'write') return 'drop';
    const err = new InjectedFault(this.rule.kind ?? 'EIO', info);
    this.errors.push(err);
    return err;
  }

  remove(): void {
    this.#owner.delete(this);
  }
}

export interface Delays {
  /** Milliseconds added before each read (synchronous reads block for it). */
  reads?: number;
  /** Milliseconds added before each write. */
  writes?: number;
}

type Bytes = Uint8Array;
type Options = Record<string, unknown>;
type Op = { type: 'put'; key: Bytes; value: Bytes } | { type: 'del'; key: Bytes };

const VIEW = { keyEncoding: 'view', valueEncoding: 'view' } as const;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Matches operations that touch a key starting with `prefix` (a string is taken as UTF-8). */
export function touches(prefix: string | Uint8Array, op?: FaultOp): (info: OpInfo) => boolean {
  const p = typeof prefix === 'string' ? new TextEncoder().encode(prefix) : prefix;
  return (info) =>
    (op === undefined || info.op === op) &&
    info.keys.some((k) => k.length >= p.length && p.every((b, i) => k[i] === b));
}

export interface FaultyLevelOptions {
  /**
   * Let our WriteBatch write through classic-level's native chained batch, as production
   * does (default true); false takes abstract-level's public batch(). Faults reach both.
   */
  nativeBatch?: boolean;
}

/** A chained batch of the database, as classic-level hands it out. */
interface ChainedBatchInternals {
  _put(key: Bytes, value: Bytes): void;
  _del(key: Bytes): void;
  _clear(): void;
  _write(options: Options): Promise<void>;
}

interface IteratorInternals {
  _next(): Promise<unknown>;
  _nextv(size: number, options: Options): Promise<unknown>;
  _all(options: Options): Promise<unknown>;
}

/** classic-level's private implementation methods (not in its typings), which FaultyLevel wraps. */
interface ClassicLevelInternals {
  _get(this: ClassicLevel<Bytes, Bytes>, key: Bytes, options: Options): Promise<Bytes | undefined>;
  _getSync(this: ClassicLevel<Bytes, Bytes>, key: Bytes, options: Options): Bytes | undefined;
  _getMany(
    this: ClassicLevel<Bytes, Bytes>,
    keys: Bytes[],
    options: Options,
  ): Promise<Array<Bytes | undefined>>;
  _put(this: ClassicLevel<Bytes, Bytes>, key: Bytes, value: Bytes, options: Options): Promise<void>;
  _del(this: ClassicLevel<Bytes, Bytes>, key: Bytes, options: Options): Promise<void>;
  _batch(this: ClassicLevel<Bytes, Bytes>, operations: Op[], options: Options): Promise<void>;
  _chainedBatch(this: ClassicLevel<Bytes, Bytes>): unknown;
  _clear(this: ClassicLevel<Bytes, Bytes>, options: Options): Promise<void>;
  _iterator(this: ClassicLevel<Bytes, Bytes>, options: Options): unknown;
}

const base = ClassicLevel.prototype as unknown as ClassicLevelInternals;

export class FaultyLevel extends ClassicLevel<Uint8Array, Uint8Array> {
  readonly #rules = new Set<RuleState>();
  #delays: Delays = {};
  /** While set, no rule fires and no delay applies (to read what is on disk). */
  #bypass = false;
  /** Operations seen so far, by kind (including failed ones). */
  readonly counts = { read: 0, write: 0 };

  constructor(location: string) {
    super(location, { ...VIEW, writeBufferSize: 4 * 1024 * 1024 });
  }

  /** Opens a FaultyLevel over a classic-level database at `location` (created when missing). */
  static async open(location: string, options: FaultyLevelOptions = {}): Promise<FaultyLevel> {
    const db = new FaultyLevel(location);
    await db.open();
    if (options.nativeBatch === false) NativeBatchPath.setEnabled(db, false);
    return db;
  }

  /** Runs `fn` past every fault rule and delay: what is on disk. */
  async unfaulted<T>(fn: () => Promise<T>): Promise<T> {
    this.#bypass = true;
    try {
      return await fn();
    } finally {
      this.#bypass = false;
    }
  }

  /** Adds a fault rule; it stays in force until removed or until it has fired `times` times. */
  fail(rule: FaultRule): Fault {
    const s = new RuleState(rule, this.#rules);
    this.#rules.add(s);
    return s;
  }

  failWrite(rule: Omit<FaultRule, 'op'> = {}): Fault {
    return this.fail({ ...rule, op: 'write' });
  }

  failRead(rule: Omit<FaultRule, 'op'> = {}): Fault {
    return this.fail({ ...rule, op: 'read' });
  }

  /** Lifts every fault rule. */
  heal(): void {
    this.#rules.clear();
  }

  setDelays(delays: Delays): void {
    this.#delays = { ...delays };
  }

  /** Throws the fault a rule injects; true when a rule drops this write instead. */
  #check(info: OpInfo): boolean {
    if (this.#bypass) return false;
    this.counts[info.op]++;
    let drop = false;
    for (const r of this.#rules) {
      const err = r.check(info);
      if (err === 'drop') drop = true;
      else if (err) throw err;
    }
    return drop;
  }

  async #before(info: OpInfo): Promise<boolean> {
    const ms = this.#bypass ? 0 : info.op === 'read' ? this.#delays.reads : this.#delays.writes;
    if (ms) await sleep(ms);
    return this.#check(info);
  }

  async _get(key: Bytes, options: Options): Promise<Bytes | undefined> {
    await this.#before({ op: 'read', method: 'get', keys: [key] });
    return base._get.call(this, key, options);
  }

  _getSync(key: Bytes, options: Options): Bytes | undefined {
    const ms = this.#bypass ? 0 : this.#delays.reads;
    if (ms) Atomics.wait(sleeper, 0, 0, ms);
    this.#check({ op: 'read', method: 'getSync', keys: [key] });
    return base._getSync.call(this, key, options);
  }

  async _getMany(keys: Bytes[], options: Options): Promise<Array<Bytes | undefined>> {
    await this.#before({ op: 'read', method: 'getMany', keys });
    return base._getMany.call(this, keys, options);
  }

  async _put(key: Bytes, value: Bytes, options: Options): Promise<void> {
    if (await this.#before({ op: 'write', method: 'put', keys: [key] })) return;
    await base._put.call(this, key, value, options);
  }

  async _del(key: Bytes, options: Options): Promise<void> {
    if (await this.#before({ op: 'write', method: 'del', keys: [key] })) return;
    await base._del.call(this, key, options);
  }

  async _batch(operations: Op[], options: Options): Promise<void> {
    if (await this.#before({ op: 'write', method: 'batch', keys: operations.map((o) => o.key) })) return;
    await base._batch.call(this, operations, options);
  }

  /**
   * classic-level's own chained batch, whose write checks the rules with every key it holds:
   * the native path of WriteBatch (_put/_del/_write/_clear below the public API) meets the
   * same faults as the public one.
   */
  _chainedBatch(): unknown {
    const batch = base._chainedBatch.call(this);
    const inner = batch as ChainedBatchInternals;
    const keys: Bytes[] = [];
    const put = inner._put.bind(inner);
    const del = inner._del.bind(inner);
    const clear = inner._clear.bind(inner);
    const write = inner._write.bind(inner);
    inner._put = (key, value) => {
      keys.push(key);
      put(key, value);
    };
    inner._del = (key) => {
      keys.push(key);
      del(key);
    };
    inner._clear = () => {
      keys.length = 0;
      clear();
    };
    inner._write = async (options) => {
      // A batch write like any other: rules see it as `batch`, whichever path wrote it.
      if (await this.#before({ op: 'write', method: 'batch', keys: [...keys], native: true })) return;
      await write(options);
    };
    return batch;
  }

  async _clear(options: Options): Promise<void> {
    if (await this.#before({ op: 'write', method: 'clear', keys: [] })) return;
    await base._clear.call(this, options);
  }

  /** classic-level's iterator, one read check per step. */
  _iterator(options: Options): unknown {
    const it = base._iterator.call(this, options);
    const inner = it as IteratorInternals;
    const next = inner._next.bind(inner);
    const nextv = inner._nextv.bind(inner);
    const all = inner._all.bind(inner);
    inner._next = async () => {
      await this.readStep('iterator.next');
      return next();
    };
    inner._nextv = async (size, o) => {
      await this.readStep('iterator.nextv');
      return nextv(size, o);
    };
    inner._all = async (o) => {
      await this.readStep('iterator.all');
      return all(o);
    };
    return it;
  }

  /** Used by the iterator: one read per step. */
  async readStep(method: string): Promise<void> {
    await this.#before({ op: 'read', method, keys: [] });
  }
}
