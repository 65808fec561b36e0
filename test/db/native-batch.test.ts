import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { MemoryLevel } from 'memory-level';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KvDb } from '../../src/db/kv-db.js';
import { NativeBatchPath } from '../../src/db/native-batch.js';
import { openDb } from '../../src/db/open-db.js';
import { MultiStoreV1 } from '../../src/v1/multi-store-v1.js';
import { FaultyLevel, touches } from '../helpers/faulty-level.js';
import { useTempDirs } from '../helpers/temp-dir.js';
import {
  blockAt,
  buildTemplate,
  expectDbIo,
  NodeHarness,
  removeTemplate,
  STORES,
} from '../reliability/node-harness.js';

const tempDir = useTempDirs();
const k = (s: string) => new TextEncoder().encode(s);

// The private API the native path relies on, as classic-level 3.0.0 has it. A new version of
// classic-level must pass this before the pin moves.
describe('classic-level chained batch: the contract NativeBatchPath uses', () => {
  it('is classic-level 3.0.0', () => {
    const pkg = JSON.parse(
      readFileSync(new URL('../../node_modules/classic-level/package.json', import.meta.url), 'utf8'),
    );
    expect(pkg.version).toBe('3.0.0');
  });

  it('_put/_del copy into the batch, _write writes it, _clear empties it for reuse', async () => {
    const db = new ClassicLevel<Uint8Array, Uint8Array>(join(tempDir('contract'), 'db'), {
      keyEncoding: 'view',
      valueEncoding: 'view',
    });
    await db.open();
    const b = db.batch() as unknown as {
      _put(k: Uint8Array, v: Uint8Array): void;
      _del(k: Uint8Array): void;
      _clear(): void;
      _write(o: object): Promise<void>;
      close(): Promise<void>;
    };
    await db.put(k('old'), k('1'));
    b._put(k('a'), k('A'));
    b._del(k('old'));
    await b._write({});
    expect(await db.get(k('a'))).toEqual(Buffer.from('A'));
    expect(await db.get(k('old'))).toBeUndefined();
    b._clear();
    b._put(k('b'), k('B'));
    b._clear(); // cleared before the write: nothing of it lands
    await b._write({});
    expect(await db.get(k('b'))).toBeUndefined();
    await b.close();
    await db.close();
  });
});

describe('NativeBatchPath', () => {
  it('is taken for the databases openDb opens, probed once, and can be switched off', async () => {
    const db = await openDb(join(tempDir('native'), 'db'));
    expect(NativeBatchPath.of(db)).toBe(NativeBatchPath.of(db));
    const fast = new KvDb(db).batch();
    fast.put(k('x'), k('1'));
    expect(fast.isNative).toBe(true);
    await fast.write();
    const off = await openDb(join(tempDir('native'), 'off'), { nativeBatch: false });
    const slow = new KvDb(off).batch();
    slow.put(k('x'), k('1'));
    expect(slow.isNative).toBe(false);
    await slow.write();
    expect(await new KvDb(off).get(k('x'))).toEqual(k('1'));
    await db.close();
    await off.close();
  });

  it('is left for the public path once a prewrite hook is added, so the hook sees every operation', async () => {
    const db = await openDb(join(tempDir('hooked'), 'db'));
    const first = new KvDb(db).batch();
    first.put(k('a'), k('1'));
    expect(first.isNative).toBe(true);
    await first.write();
    const seen: string[] = [];
    db.hooks.prewrite.add((op: { key: Uint8Array }) => {
      seen.push(new TextDecoder().decode(op.key));
    });
    const second = new KvDb(db).batch();
    second.put(k('b'), k('2'));
    expect(second.isNative).toBe(false);
    await second.write();
    expect(seen).toEqual(['b']);
    await db.close();
  });

  it('is not taken for other databases (memory-level)', async () => {
    const db = new MemoryLevel<Uint8Array, Uint8Array>({ keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    const b = new KvDb(db).batch();
    b.put(k('x'), k('1'));
    expect(b.isNative).toBe(false);
    await b.write();
    await db.close();
  });

  it('meets the fault suites: an injected native write fault is ERR_DB_IO and commits nothing', async () => {
    const dir = tempDir('native-fault');
    const db = await FaultyLevel.open(join(dir, 'db'));
    const ms = await MultiStoreV1.open(db, { stores: STORES });
    await ms.commit(blockAt(1), 1);
    const fault = db.failWrite({ match: (i) => i.native === true && touches('s/latest')(i) });
    expectDbIo(await ms.commit(blockAt(2), 2).catch((e: unknown) => e));
    expect(fault.fired).toBe(1);
    await db.close();
    const reopened = await openDb(join(dir, 'db'), { createIfMissing: false });
    expect((await MultiStoreV1.open(reopened, { readOnly: true })).latestVersion).toBe(1);
    await reopened.close();
  });
});

describe('a broken native write is caught by the fault suite', () => {
  let template: string;
  beforeAll(async () => {
    template = await buildTemplate();
  });
  afterAll(() => removeTemplate(template));

  it.each([
    [true, 'caught: the node cannot show the heights it committed'],
    [false, 'not reached on the public path: the node is whole'],
  ])('native path %s: v2 batch writes that report success and write nothing are %s', async (native) => {
    const h = await NodeHarness.create(template, { nativeBatch: native });
    try {
      // Every native batch write to v2 "succeeds" without writing: a broken fast path.
      const drop = h.fv2.failWrite({
        drop: true,
        times: Number.POSITIVE_INFINITY,
        match: (i) => i.native === true,
      });
      const run = async () => {
        await h.start();
        await h.untilSwitched();
        await h.commits(2);
        await h.expectContinuity();
      };
      if (native) {
        // The suite's own checks (a failed migration, or heights the node cannot show) notice it.
        await expect(run()).rejects.toThrow();
        expect(drop.fired).toBeGreaterThan(0);
      } else {
        await run();
        expect(drop.fired).toBe(0);
      }
    } finally {
      await h.dispose();
    }
  });
});
