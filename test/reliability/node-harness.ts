import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { KvDb, type LevelDatabase } from '../../src/db/kv-db.js';
import { openDb } from '../../src/db/open-db.js';
import { toHex, utf8 } from '../../src/encoding/bytes.js';
import type { Changeset } from '../../src/encoding/changeset.js';
import { StoreMigrateError } from '../../src/errors.js';
import type { CommitInfo } from '../../src/multistore/commit-info.js';
import { MultiStoreV1 } from '../../src/v1/multi-store-v1.js';
import { RootStore, type RootStoreEvent, type RootStoreOptions } from '../../src/v2/root/root-store.js';
import { FaultyLevel, InjectedFault } from '../helpers/faulty-level.js';
import { Rng } from '../helpers/random.js';
import { waitFor } from '../helpers/wait-for.js';

export { waitFor };

/**
 * A small node for reliability tests: a RootStore over a v1 home built from deterministic
 * blocks (the block of a version depends only on the version), a reference v1-only
 * MultiStoreV1 in another directory fed the same blocks, and fault-injecting databases.
 */

export const STORES = ['acc', 'bank'];
export const KEYS = 300;
/** Versions in the template v1. */
export const BASE = 10;

export function keyOf(i: number): Uint8Array {
  return utf8(`key/${String(i).padStart(6, '0')}`);
}

/** The changeset of `version`: the initial state at 1, a block of 24 changes after. */
export function blockAt(version: number): Changeset {
  const rng = new Rng(version * 7919 + 13);
  if (version === 1) {
    return {
      changes: STORES.map((store) => ({
        store,
        pairs: Array.from({ length: KEYS }, (_, i) => ({ key: keyOf(i), value: rng.bytes(8 + rng.int(90)) })),
      })),
    };
  }
  return {
    changes: STORES.map((store) => ({
      store,
      pairs: Array.from({ length: 12 }, () => {
        const key = keyOf(rng.int(Math.round(KEYS * 1.2)));
        return rng.next() < 0.2 ? { key, remove: true } : { key, value: rng.bytes(1 + rng.int(60)) };
      }),
    })),
  };
}

/** Writes a v1 of versions 1..`versions` (blocks from `blocks`) into a new directory; returns its path. */
export async function buildTemplate(
  versions = BASE,
  blocks: (version: number) => Changeset = blockAt,
): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'rel-template-'));
  const path = join(dir, 'application.db');
  const db = await openDb(path);
  const ms = await MultiStoreV1.open(db, { stores: STORES });
  for (let v = 1; v <= versions; v++) await ms.commit(blocks(v), v);
  await db.close();
  return path;
}

export function removeTemplate(path: string): void {
  rmSync(join(path, '..'), { recursive: true, force: true });
}

/** The injected fault at the bottom of an error's cause chain, if any. */
export function injectedCause(err: unknown): InjectedFault | undefined {
  let e: unknown = err;
  for (let i = 0; i < 10 && e !== undefined; i++) {
    if (e instanceof InjectedFault) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Asserts a typed ERR_DB_IO that wraps an injected fault. */
export function expectDbIo(err: unknown): StoreMigrateError {
  expect(err).toBeInstanceOf(StoreMigrateError);
  expect((err as StoreMigrateError).code, (err as Error).message).toBe('ERR_DB_IO');
  expect(injectedCause(err)).toBeInstanceOf(InjectedFault);
  return err as StoreMigrateError;
}

export async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

export interface HarnessOptions {
  /** Versions already in v1 (a copy of the template). */
  template: string;
}

export class NodeHarness {
  readonly dir: string;
  readonly v1Path: string;
  readonly v2Path: string;
  v1!: LevelDatabase;
  v2!: LevelDatabase;
  refDb!: LevelDatabase;
  ref!: MultiStoreV1;
  rs!: RootStore;
  events: RootStoreEvent[] = [];
  /** Versions whose commit was reported to the node as done. */
  readonly committed: number[] = [];

  /** Whether WriteBatch takes the native chained-batch path (as production) or the public one. */
  nativeBatch = true;

  private constructor(dir: string) {
    this.dir = dir;
    this.v1Path = join(dir, 'application.db');
    this.v2Path = join(dir, 'v2');
  }

  /** A home holding a copy of the template v1, with fault-injecting databases (not started). */
  static async create(template: string, options: { nativeBatch?: boolean } = {}): Promise<NodeHarness> {
    const dir = mkdtempSync(join(tmpdir(), 'rel-node-'));
    const h = new NodeHarness(dir);
    h.nativeBatch = options.nativeBatch ?? true;
    cpSync(template, h.v1Path, { recursive: true });
    cpSync(template, join(dir, 'ref.db'), { recursive: true });
    h.v1 = await FaultyLevel.open(h.v1Path, { nativeBatch: h.nativeBatch });
    h.v2 = await FaultyLevel.open(h.v2Path, { nativeBatch: h.nativeBatch });
    h.refDb = await openDb(join(dir, 'ref.db'));
    h.ref = await MultiStoreV1.open(h.refDb);
    return h;
  }

  get fv1(): FaultyLevel {
    return this.v1 as FaultyLevel;
  }

  get fv2(): FaultyLevel {
    return this.v2 as FaultyLevel;
  }

  async start(options: RootStoreOptions = {}): Promise<RootStore> {
    this.events = [];
    this.rs = await RootStore.open(this.v1, this.v2, { batchBytes: 16 * 1024, ...options });
    this.rs.events$.subscribe((e) => this.events.push(e));
    return this.rs;
  }

  /** Brings the reference up to `version` with the same deterministic blocks. */
  async syncRef(version: number): Promise<void> {
    while (this.ref.latestVersion < version) {
      const v = this.ref.latestVersion + 1;
      await this.ref.commit(blockAt(v), v);
    }
  }

  /** Commits the next block, as a node would (next = latest + 1), and checks it against the reference. */
  async commit(): Promise<CommitInfo> {
    const v = this.rs.latestVersion + 1;
    await this.syncRef(v - 1);
    const ci = await this.rs.commit(blockAt(v));
    expect(ci.version).toBe(v);
    this.committed.push(v);
    const r = await this.ref.commit(blockAt(v), v);
    expect(toHex(ci.appHash), `app hash of ${v}`).toBe(toHex(r.appHash));
    return ci;
  }

  async commits(n: number): Promise<void> {
    for (let i = 0; i < n; i++) await this.commit();
  }

  /** Commits the next block and expects the commit to fail; returns the error. */
  async commitFails(): Promise<StoreMigrateError> {
    const v = this.rs.latestVersion + 1;
    await this.syncRef(v - 1);
    const err = await rejectionOf(this.rs.commit(blockAt(v)));
    expect(err).toBeInstanceOf(StoreMigrateError);
    return err as StoreMigrateError;
  }

  failedEvent(): Extract<RootStoreEvent, { type: 'failed' }> | undefined {
    return this.events.find((e): e is Extract<RootStoreEvent, { type: 'failed' }> => e.type === 'failed');
  }

  async waitFailed(): Promise<StoreMigrateError> {
    await waitFor(() => this.failedEvent() !== undefined, 10_000, 'the failed event');
    return this.failedEvent()!.error;
  }

  /** The raw `m/switched` record of v2 (undefined when nothing switched). */
  async switchedRecord(): Promise<Uint8Array | undefined> {
    // Past any fault rules: what is on disk.
    const read = () => new KvDb(this.v2).get(utf8('m/switched'));
    return this.v2 instanceof FaultyLevel ? this.v2.unfaulted(read) : read();
  }

  async expectNotSwitched(): Promise<void> {
    expect(this.rs.switchedAtVersion).toBeUndefined();
    expect(this.events.some((e) => e.type === 'switched')).toBe(false);
    expect(await this.switchedRecord()).toBeUndefined();
  }

  /**
   * Closes the RootStore and both databases, and opens them again: as plain classic-level
   * databases, or (`faulty`) as new fault-injecting ones, returned before the store starts.
   */
  async restart(options: RootStoreOptions = {}): Promise<RootStore> {
    await this.reopen(false);
    return this.start(options);
  }

  async reopen(faulty: boolean): Promise<void> {
    await this.rs?.close();
    await this.v1.close();
    await this.v2.close();
    const nativeBatch = this.nativeBatch;
    this.v1 = faulty
      ? await FaultyLevel.open(this.v1Path, { nativeBatch })
      : await openDb(this.v1Path, { nativeBatch });
    this.v2 = faulty
      ? await FaultyLevel.open(this.v2Path, { nativeBatch })
      : await openDb(this.v2Path, { nativeBatch });
  }

  /** Commits blocks until the store switches (waiting for the migration to catch up between blocks). */
  async untilSwitched(maxCommits = 30): Promise<void> {
    for (let i = 0; i < maxCommits && this.rs.switchedAtVersion === undefined; i++) {
      await waitFor(
        () =>
          this.rs.switchedAtVersion !== undefined ||
          this.rs.migratedVersion >= this.rs.latestVersion ||
          this.rs.status().phase === 'failed',
        10_000,
        'the migration to catch up',
      );
      expect(this.rs.status().error).toBeUndefined();
      await this.commit();
    }
    expect(this.rs.switchedAtVersion).toBeDefined();
    expect(this.rs.status().phase).toBe('switched');
  }

  /** Every height the node holds has the reference's app hash, and a few keys read the same. */
  async expectContinuity(): Promise<void> {
    const latest = this.rs.latestVersion;
    await this.syncRef(latest);
    expect(this.ref.latestVersion).toBe(latest);
    for (let v = 1; v <= latest; v++) {
      expect(toHex((await this.rs.commitInfo(v)).appHash), `app hash ${v}`).toBe(
        toHex((await this.ref.getCommitInfo(v)).appHash),
      );
    }
    for (const store of STORES) {
      for (const i of [0, 7, 150, 299, 333]) {
        expect((await this.rs.query(store, keyOf(i), latest)).value).toEqual(
          (await this.ref.query(store, keyOf(i), latest)).value,
        );
      }
    }
  }

  async dispose(): Promise<void> {
    await this.rs?.close().catch(() => {});
    for (const db of [this.v1, this.v2, this.refDb]) await db?.close().catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }
}
