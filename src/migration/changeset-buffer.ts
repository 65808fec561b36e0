import type { KvDb } from '../db/kv-db.js';
import { readU64be } from '../encoding/byte-writer.js';
import { equalBytes, fromUtf8, utf8 } from '../encoding/bytes.js';
import {
  type Changeset,
  decodeChangeset,
  encodeChangeset,
  type VersionedChangeset,
} from '../encoding/changeset.js';
import { StoreMigrateError } from '../errors.js';
import { changesetKey, V2Keys } from '../v2/home/v2-keys.js';

const PREFIX = V2Keys.changesetPrefix;

export { changesetKey };

function versionOfKey(k: Uint8Array): number {
  return readU64be(Buffer.from(fromUtf8(k).slice(PREFIX.length), 'hex'), 0);
}

/**
 * The changesets committed to v1 while the migration runs, persisted under `changesetKey(version)`
 * (V2Keys) with the cosmos changeset codec. Versions must arrive without gaps; a duplicate with the
 * same bytes is accepted (a replay after a restart), one with other bytes is refused.
 * Readers wait for a version without polling: each write wakes them.
 */
export class ChangesetBuffer {
  readonly #kv: KvDb;
  #first = 0;
  #last = 0;
  #waiters = new Map<number, Array<() => void>>();
  #queue: Promise<void> = Promise.resolve();

  constructor(kv: KvDb) {
    this.#kv = kv;
  }

  /** Loads the range of buffered versions. */
  async open(): Promise<void> {
    const range = { gte: utf8(PREFIX), lt: V2Keys.changesetEnd };
    for await (const k of this.#kv.keys({ ...range, limit: 1 })) this.#first = versionOfKey(k);
    for await (const k of this.#kv.keys({ ...range, reverse: true, limit: 1 })) this.#last = versionOfKey(k);
  }

  /** Lowest and highest buffered versions (0 when empty). */
  get first(): number {
    return this.#first;
  }

  get last(): number {
    return this.#last;
  }

  /**
   * Persists one changeset. Writes are serialised in call order, so a subscriber can call
   * this for each emission without awaiting; the returned promise settles with that write.
   * `after` is the version the buffer continues from when it is empty (the migration height).
   */
  write(vcs: VersionedChangeset, after?: number): Promise<void> {
    const p = this.#queue.then(() => this.#write(vcs, after));
    // The caller gets p's rejection; the queue only orders the next write after this one.
    this.#queue = p.catch(() => {});
    return p;
  }

  async #write({ version, changeset }: VersionedChangeset, after?: number): Promise<void> {
    const bytes = encodeChangeset(changeset);
    const expected = this.#last > 0 ? this.#last + 1 : after !== undefined ? after + 1 : version;
    if (version < expected) {
      const existing = await this.#kv.get(changesetKey(version));
      if (existing !== undefined && equalBytes(existing, bytes)) return;
      throw new StoreMigrateError(
        'ERR_CHANGESET_CONFLICT',
        existing === undefined
          ? `changeset ${version} arrived after the buffer moved past it (expected ${expected})`
          : `changeset ${version} was already buffered with different contents`,
        { details: { version } },
      );
    }
    if (version > expected) {
      throw new StoreMigrateError(
        'ERR_CHANGESET_GAP',
        `changeset ${version} arrived but ${expected} is missing`,
        {
          details: { expected, got: version },
        },
      );
    }
    await this.#kv.put(changesetKey(version), bytes);
    if (this.#first === 0) this.#first = version;
    this.#last = version;
    const ws = this.#waiters.get(version);
    this.#waiters.delete(version);
    for (const w of ws ?? []) w();
  }

  /** The buffered changeset of `version`, or undefined. A corrupt entry is a typed error. */
  async read(version: number): Promise<Changeset | undefined> {
    const raw = await this.#kv.get(changesetKey(version));
    if (raw === undefined) return undefined;
    try {
      return decodeChangeset(raw);
    } catch (err) {
      throw new StoreMigrateError('ERR_INVALID_CHANGESET', `buffered changeset ${version} is corrupt`, {
        cause: err,
        details: { version },
      });
    }
  }

  /**
   * Whether versions from..to are all buffered and decode: 'gap' when one is missing,
   * 'corrupt' when one does not decode.
   */
  async check(from: number, to: number): Promise<'ok' | 'gap' | 'corrupt'> {
    let expected = from;
    for await (const [k, v] of this.#kv.iterate({ gte: changesetKey(from), lt: changesetKey(to + 1) })) {
      if (versionOfKey(k) !== expected) return 'gap';
      try {
        decodeChangeset(v);
      } catch {
        return 'corrupt';
      }
      expected++;
    }
    return expected > to ? 'ok' : 'gap';
  }

  /** Resolves once `version` is buffered (at once if it already is). `signal` cancels the wait. */
  waitFor(version: number, signal?: AbortSignal): Promise<void> {
    if (version <= this.#last && version >= this.#first && this.#first > 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const list = this.#waiters.get(version) ?? [];
      const done = () => {
        signal?.removeEventListener('abort', abort);
        resolve();
      };
      const abort = () => {
        const l = this.#waiters.get(version);
        if (l)
          this.#waiters.set(
            version,
            l.filter((w) => w !== done),
          );
        reject(signal?.reason);
      };
      if (signal?.aborted) return abort();
      signal?.addEventListener('abort', abort, { once: true });
      list.push(done);
      this.#waiters.set(version, list);
    });
  }

  /** Waits for every write queued so far. */
  async drain(): Promise<void> {
    await this.#queue;
  }

  /** Deletes buffered versions up to and including `version` (applied and switched). */
  async deleteTo(version: number): Promise<void> {
    await this.drain();
    await this.#kv.clear({ gte: utf8(PREFIX), lt: changesetKey(version + 1) });
    if (version >= this.#last) {
      this.#first = 0;
      this.#last = 0;
    } else if (version >= this.#first) {
      this.#first = version + 1;
    }
  }

  /** Deletes buffered versions from `version` on: changesets whose v1 commit never happened. */
  async deleteFrom(version: number): Promise<void> {
    await this.drain();
    if (this.#last < version) return;
    await this.#kv.clear({ gte: changesetKey(version), lt: V2Keys.changesetEnd });
    if (version <= this.#first) {
      this.#first = 0;
      this.#last = 0;
    } else {
      this.#last = version - 1;
    }
  }
}
