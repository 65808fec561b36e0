import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KvDb } from '../src/db/kv-db.js';
import { openDb } from '../src/db/open-db.js';
import { fromHex } from '../src/encoding/bytes.js';
import { StoreMigrateError } from '../src/errors.js';
import { SnapshotsManager } from '../src/snapshots/snapshots-manager.js';
import { MigrationStream } from '../src/stream/migration-stream.js';
import { MultiStoreV1 } from '../src/v1/multi-store-v1.js';
import { copyFixture, FIXTURES } from './helpers/fixtures.js';

describe('StoreMigrateError.wrap', () => {
  const inner = new StoreMigrateError('ERR_MISSING_NODE', 'node 00ff is missing', {
    details: { node: '00ff' },
  });

  it.each<[string, unknown, string, string]>([
    [
      'keeps the code and adds the context',
      inner,
      'ERR_MISSING_NODE',
      'store bank at height 7: node 00ff is missing',
    ],
    [
      'turns anything else into the fallback code',
      new Error('boom'),
      'ERR_INTERNAL',
      'store bank at height 7: boom',
    ],
    ['takes a thrown string', 'bad', 'ERR_INTERNAL', 'store bank at height 7: bad'],
  ])('%s', (_, err, code, message) => {
    const wrapped = StoreMigrateError.wrap(err, 'store bank at height 7', { store: 'bank', height: 7 });
    expect(wrapped).toBeInstanceOf(StoreMigrateError);
    expect(wrapped.code).toBe(code);
    expect(wrapped.message).toBe(message);
    expect(wrapped.cause).toBe(err);
    expect(wrapped.details).toMatchObject({ store: 'bank', height: 7 });
  });

  it('merges the inner details under the new ones', () => {
    expect(StoreMigrateError.wrap(inner, 'ctx', { store: 'acc' }).details).toEqual({
      node: '00ff',
      store: 'acc',
    });
  });
});

describe('errors carry the context of the layer that wraps them', () => {
  it('a missing node met while exporting v1 names the store and the height', async () => {
    // The Go-written upgraded fixture, with a legacy child of a node-key node deleted (bad-input case).
    const bad = JSON.parse(
      readFileSync(join(FIXTURES, 'bad', 'v1', 'v1-legacy-child-missing.json'), 'utf8'),
    ) as {
      del: string[];
    };
    const fx = copyFixture('go/upgraded/application.db');
    const db = await openDb(fx.path, { createIfMissing: false });
    try {
      for (const k of bad.del) await new KvDb(db).del(fromHex(k));
      const ms = await MultiStoreV1.open(db, { readOnly: true });
      const stream = new MigrationStream<unknown>(64);
      const drain = (async () => {
        for await (const _ of stream as AsyncIterable<unknown>);
      })().catch(() => {});
      const err = await new SnapshotsManager(ms).createMigration(50, stream as never).then(
        () => undefined,
        (e: unknown) => e,
      );
      await drain;
      expect(err).toMatchObject({
        code: 'ERR_MISSING_NODE',
        message: expect.stringMatching(
          /^exporting store acc of v1 at height 50: node [0-9a-f]{64} is missing/,
        ),
        details: { store: 'acc', height: 50 },
      });
    } finally {
      await db.close();
      fx.cleanup();
    }
  });
});
