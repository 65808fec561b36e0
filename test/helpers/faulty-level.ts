import { AbstractIterator, AbstractLevel } from 'abstract-level';
import { ClassicLevel } from 'classic-level';

/**
 * A fault-injecting abstract-level database for reliability tests. It forwards every private
 * operation to a real ClassicLevel on disk and can, on demand, fail the Nth read or write (or
 * every one from the Nth on) with an ENOSPC- or EIO-like error, and add delays.
 *
 * It goes through abstract-level's public surface only, so the code under test treats it as any
 * user-supplied database: keys and values are Uint8Array ('view'), getSync is supported (the
 * tree engine needs it), and our KvDb takes the public batch path (its native fast path is for
 * a plain ClassicLevel only).
 */

export type FaultKind = 'ENOSPC' | 'EIO';
export type FaultOp = 'read' | 'write';

/** One operation as a fault rule sees it: its kind and every key it touches. */
export interface OpInfo {
  op: FaultOp;
  /** get, getSync, getMany, iterator, put, del, batch or clear. */
  method: string;
  keys: Uint8Array[];
}

export interface FaultRule {
  op: FaultOp;
  /** Which matching operation fails first, counted from when the rule was added (1-based, default 1). */
  nth?: number;
  /** How many matching operations fail from the nth on (default 1; Infinity: every one after). */
  times?: number;
  kind?: FaultKind;
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

  /** The error to throw for this operation, if this rule fails it. */
  check(info: OpInfo): InjectedFault | undefined {
    if (info.op !== this.rule.op) return undefined;
    if (this.rule.match && !this.rule.match(info)) return undefined;
    this.seen++;
    const nth = this.rule.nth ?? 1;
    const times = this.rule.times ?? 1;
    if (this.seen < nth || this.seen >= nth + times) return undefined;
    this.fired++;
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
const RANGE_KEYS = ['gt', 'gte', 'lt', 'lte'] as const;
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

export class FaultyLevel extends AbstractLevel<Uint8Array, Uint8Array, Uint8Array> {
  readonly inner: ClassicLevel<Uint8Array, Uint8Array>;
  readonly location: string;
  readonly #rules = new Set<RuleState>();
  #delays: Delays = {};
  /** Operations seen so far, by kind (including failed ones). */
  readonly counts = { read: 0, write: 0 };

  constructor(location: string) {
    // getSync is not in the IManifest type of abstract-level's typings, but the manifest takes it.
    const manifest = {
      encodings: { view: true },
      getSync: true,
      seek: true,
      createIfMissing: true,
      errorIfExists: false,
      implicitSnapshots: true,
      permanence: true,
    };
    super(manifest as ConstructorParameters<typeof AbstractLevel>[0], VIEW);
    this.location = location;
    this.inner = new ClassicLevel<Uint8Array, Uint8Array>(location, {
      ...VIEW,
      writeBufferSize: 4 * 1024 * 1024,
    });
  }

  /** Opens a FaultyLevel over a classic-level database at `location` (created when missing). */
  static async open(location: string): Promise<FaultyLevel> {
    const db = new FaultyLevel(location);
    await db.open();
    return db;
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

  #check(info: OpInfo): void {
    this.counts[info.op]++;
    for (const r of this.#rules) {
      const err = r.check(info);
      if (err) throw err;
    }
  }

  async #before(info: OpInfo): Promise<void> {
    const ms = info.op === 'read' ? this.#delays.reads : this.#delays.writes;
    if (ms) await sleep(ms);
    this.#check(info);
  }

  async _open(options: Options): Promise<void> {
    await this.inner.open({ createIfMissing: options.createIfMissing !== false });
  }

  async _close(): Promise<void> {
    await this.inner.close();
  }

  async _get(key: Bytes, _options: Options): Promise<Bytes | undefined> {
    await this.#before({ op: 'read', method: 'get', keys: [key] });
    return this.inner.get(key, VIEW);
  }

  _getSync(key: Bytes, _options: Options): Bytes | undefined {
    const ms = this.#delays.reads;
    if (ms) Atomics.wait(sleeper, 0, 0, ms);
    this.#check({ op: 'read', method: 'getSync', keys: [key] });
    return this.inner.getSync(key, VIEW);
  }

  async _getMany(keys: Bytes[], _options: Options): Promise<Array<Bytes | undefined>> {
    await this.#before({ op: 'read', method: 'getMany', keys });
    return this.inner.getMany(keys, VIEW);
  }

  async _put(key: Bytes, value: Bytes, _options: Options): Promise<void> {
    await this.#before({ op: 'write', method: 'put', keys: [key] });
    await this.inner.put(key, value, VIEW);
  }

  async _del(key: Bytes, _options: Options): Promise<void> {
    await this.#before({ op: 'write', method: 'del', keys: [key] });
    await this.inner.del(key, VIEW);
  }

  async _batch(operations: Op[], _options: Options): Promise<void> {
    await this.#before({ op: 'write', method: 'batch', keys: operations.map((o) => o.key) });
    await this.inner.batch(
      operations.map((o) =>
        o.type === 'put'
          ? { type: 'put' as const, key: o.key, value: o.value }
          : { type: 'del' as const, key: o.key },
      ),
      VIEW,
    );
  }

  async _clear(options: Options): Promise<void> {
    await this.#before({ op: 'write', method: 'clear', keys: [] });
    await this.inner.clear(rangeOf(options));
  }

  _iterator(options: Options): FaultyIterator {
    return new FaultyIterator(this, options);
  }

  /** Used by the iterator: one read per step. */
  async readStep(method: string): Promise<void> {
    await this.#before({ op: 'read', method, keys: [] });
  }
}

function rangeOf(options: Options): Options {
  const out: Options = { ...VIEW, reverse: options.reverse === true };
  const limit = options.limit;
  if (typeof limit === 'number' && limit >= 0) out.limit = limit;
  for (const k of RANGE_KEYS) if (options[k] !== undefined) out[k] = options[k];
  return out;
}

type Entry = [Bytes | undefined, Bytes | undefined];

interface InnerIterator {
  next(): Promise<Entry | undefined>;
  nextv(size: number): Promise<Entry[]>;
  all(): Promise<Entry[]>;
  seek(target: Bytes): void;
  close(): Promise<void>;
}

/** Forwards to an iterator of the inner database (its snapshot is taken as this one is created). */
class FaultyIterator extends AbstractIterator<FaultyLevel, Bytes, Bytes> {
  readonly #db: FaultyLevel;
  readonly #it: InnerIterator;

  constructor(db: FaultyLevel, options: Options) {
    super(db, options);
    this.#db = db;
    this.#it = db.inner.iterator({
      ...rangeOf(options),
      keys: options.keys !== false,
      values: options.values !== false,
    }) as unknown as InnerIterator;
  }

  async _next(): Promise<Entry | undefined> {
    await this.#db.readStep('iterator.next');
    return this.#it.next();
  }

  async _nextv(size: number): Promise<Entry[]> {
    await this.#db.readStep('iterator.nextv');
    return this.#it.nextv(size);
  }

  async _all(): Promise<Entry[]> {
    await this.#db.readStep('iterator.all');
    return this.#it.all();
  }

  _seek(target: Bytes): void {
    this.#it.seek(target);
  }

  async _close(): Promise<void> {
    await this.#it.close();
  }
}
