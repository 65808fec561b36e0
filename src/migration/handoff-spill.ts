import { type FileHandle, mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../logger.js';
import { packBytes, unpackBytes } from '../worker/wire.js';
import type { V1Writes } from './v1-version-copy.js';

/** Where the spill of the v2 database at `v2Path` lives: beside it, never inside it. */
export function handoffSpillPath(v2Path: string): string {
  return `${v2Path}.handoff`;
}

/** A segment file is closed for writing at this size; it is deleted once the sync passed it. */
const SEGMENT_BYTES = 64 * 1024 * 1024;

interface Segment {
  id: number;
  file: Promise<FileHandle>;
  size: number;
  /** Versions written here and not yet taken or dropped. */
  live: Set<number>;
}

interface Record {
  segment: Segment;
  offset: number;
  length: number;
  /** Settles once the bytes are on file; false when the write failed. */
  written: Promise<boolean>;
}

/**
 * v1's handed-over writes that did not fit the sync's memory budget, in append-only files
 * beside v2 (`v2.handoff/`), so that the sync reads them back on its own thread instead of
 * reading v1 through the node thread, whose iterator makes an object per node there while the
 * node commits. Only a cache: a version whose record is missing or unreadable is read from
 * v1, and every copy is checked against v1's commit info either way. Nothing in it outlives
 * the migration: open() clears what a crash left, close() removes the directory.
 */
export class HandoffSpill {
  readonly #dir: string;
  readonly #log: Logger;
  readonly #segmentBytes: number;
  readonly #records = new Map<number, Record>();
  readonly #segments: Segment[] = [];
  #nextId = 0;
  #closed = false;

  private constructor(dir: string, log: Logger, segmentBytes: number) {
    this.#dir = dir;
    this.#log = log;
    this.#segmentBytes = segmentBytes;
  }

  /**
   * An empty spill in `dir` (whatever was there is removed first). `segmentBytes`: the size
   * at which a file is closed for writing (default 64 MiB).
   * @example
   * const spill = await HandoffSpill.open(handoffSpillPath(v2Path), log);
   */
  static async open(
    dir: string,
    log: Logger,
    options: { segmentBytes?: number } = {},
  ): Promise<HandoffSpill> {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    return new HandoffSpill(dir, log, options.segmentBytes ?? SEGMENT_BYTES);
  }

  /** Versions on file (or being written), not yet taken or dropped. */
  get size(): number {
    return this.#records.size;
  }

  /**
   * Appends a version's writes; returns at once (the write runs in the background, and a
   * failed one only leaves the version to be read from v1).
   * @example
   * spill.put(102, { keys, values });
   */
  put(version: number, writes: V1Writes): void {
    if (this.#closed || this.#records.has(version)) return;
    const bytes = new Uint8Array(packBytes([...writes.keys, ...writes.values]));
    const segment = this.#segmentFor(bytes.length);
    const offset = segment.size;
    segment.size += bytes.length;
    segment.live.add(version);
    const written = segment.file
      .then((fh) => fh.write(bytes, 0, bytes.length, offset))
      .then(
        () => true,
        (err: unknown) => {
          this.#log.warn({ err, version }, 'could not spill handed-over writes; the sync reads them from v1');
          return false;
        },
      );
    this.#records.set(version, { segment, offset, length: bytes.length, written });
  }

  /**
   * A version's writes, read back and forgotten (undefined: not spilled, or the write or read
   * failed).
   * @example
   * const writes = await spill.take(102);
   */
  async take(version: number): Promise<V1Writes | undefined> {
    const r = this.#records.get(version);
    if (r === undefined) return undefined;
    this.#records.delete(version);
    try {
      if (!(await r.written) || this.#closed) return undefined;
      const buf = new ArrayBuffer(r.length);
      const fh = await r.segment.file;
      const { bytesRead } = await fh.read(new Uint8Array(buf), 0, r.length, r.offset);
      if (bytesRead !== r.length) throw new Error(`read ${bytesRead} of ${r.length} bytes`);
      const items = unpackBytes(buf) as Uint8Array[];
      const n = items.length / 2;
      if (!Number.isInteger(n) || items.includes(undefined as unknown as Uint8Array))
        throw new Error('not a record of keys and values');
      return { keys: items.slice(0, n), values: items.slice(n) };
    } catch (err) {
      this.#log.warn({ err, version }, 'could not read spilled writes back; the sync reads them from v1');
      return undefined;
    } finally {
      await this.#release(r.segment, version);
    }
  }

  /** Forgets every version up to `version` (the sync is past them) and deletes the files they filled. */
  async dropTo(version: number): Promise<void> {
    for (const [v, r] of this.#records) {
      if (v > version) continue;
      this.#records.delete(v);
      await this.#release(r.segment, v);
    }
  }

  /** Closes the files and removes the directory. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#records.clear();
    for (const s of this.#segments.splice(0)) await closeFile(s, this.#log);
    await rm(this.#dir, { recursive: true, force: true });
  }

  /** The segment being appended to, or a new one when it is full (or there is none). */
  #segmentFor(bytes: number): Segment {
    const last = this.#segments.at(-1);
    if (last !== undefined && last.size + bytes <= this.#segmentBytes) return last;
    const id = this.#nextId++;
    const file = open(this.#segmentPath(id), 'w+');
    // Observed by put() and take(); a failed open must not count as unhandled meanwhile.
    file.catch(() => {});
    const segment: Segment = { id, file, size: 0, live: new Set() };
    this.#segments.push(segment);
    return segment;
  }

  #segmentPath(id: number): string {
    return join(this.#dir, `${String(id).padStart(6, '0')}.seg`);
  }

  /** Deletes a segment once nothing in it is wanted and nothing more goes into it. */
  async #release(segment: Segment, version: number): Promise<void> {
    segment.live.delete(version);
    if (segment.live.size > 0 || segment === this.#segments.at(-1)) return;
    const i = this.#segments.indexOf(segment);
    if (i < 0) return;
    this.#segments.splice(i, 1);
    await closeFile(segment, this.#log);
    await rm(this.#segmentPath(segment.id), { force: true });
  }
}

async function closeFile(segment: Segment, log: Logger): Promise<void> {
  try {
    await (await segment.file).close();
  } catch (err) {
    log.debug({ err, segment: segment.id }, 'a handoff spill file did not open or close');
  }
}
