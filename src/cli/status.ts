import { existsSync } from 'node:fs';
import { readU64be } from '../encoding/byte-writer.js';
import { utf8 } from '../encoding/bytes.js';
import { StoreMigrateError } from '../errors.js';
import { MultiStoreV1 } from '../v1/multi-store-v1.js';
import { homePaths } from '../v2/root/node-home.js';
import { EXIT_OK, printResult } from './cli-context.js';
import { openV2 } from './open-v2.js';
import { type CommandOptions, openExistingV1, requiredOption, withDatabase } from './options.js';

/** The status document: the same shape as the migration_status RPC. */
export interface HomeStatus {
  phase: string;
  migratedVersion: number;
  targetVersion: number;
  latestVersion: number;
  switchedAtVersion: number | undefined;
  /** Why the migration failed, for phase `failed` (as migration_status reports it). */
  error: { code: string; message: string } | undefined;
  progress: { restoredStores: number; stores: number; bufferedChangesets: number; percent: number };
}

/** `status --home DIR`: the migration phase and progress of a node home that is not running. */
export async function runStatus(opts: CommandOptions): Promise<number> {
  const home = requiredOption(opts, 'status', 'home', '--home <dir>');
  const { v1Path, v2Path } = homePaths(home);
  if (!existsSync(home))
    throw new StoreMigrateError('ERR_NOT_FOUND', `no node home at ${home}: the directory does not exist`);
  const v1Db = await openExistingV1(v1Path);
  return withDatabase(v1Db, async () => {
    const v1 = await MultiStoreV1.open(v1Db, { readOnly: true });
    const exists = existsSync(v2Path);
    let status: HomeStatus;
    if (!exists) {
      status = {
        phase: 'not-started',
        migratedVersion: 0,
        targetVersion: v1.latestVersion,
        latestVersion: v1.latestVersion,
        switchedAtVersion: undefined,
        error: undefined,
        progress: { restoredStores: 0, stores: v1.storeNames().length, bufferedChangesets: 0, percent: 0 },
      };
    } else {
      const parts = await openV2(v2Path, v1, { create: false });
      status = await withDatabase(parts.db, async () => {
        const kv = parts.manager.buffer;
        const m = parts.manager;
        const switchedRaw = await parts.sc.kv.get(utf8('m/switched'));
        const switchedAt = switchedRaw ? readU64be(switchedRaw, 0) : undefined;
        const restore = await parts.sc.kv.get(utf8('c/restore'));
        const restored = restore
          ? (JSON.parse(new TextDecoder().decode(restore)).done as string[]).length
          : 0;
        const stores = v1.storeNames().length;
        const migrated = m.getMigratedVersion();
        // A failed migration is recorded; the node starts it over on its next start.
        const error = switchedAt === undefined ? await m.recordedFailure() : undefined;
        const phase =
          switchedAt !== undefined
            ? 'switched'
            : error !== undefined
              ? 'failed'
              : m.height === 0
                ? 'not-started'
                : migrated < m.height
                  ? 'restoring'
                  : 'syncing';
        const restoredStores = migrated >= m.height && m.height > 0 ? stores : restored;
        const latest = switchedAt !== undefined ? parts.sc.latestVersion : v1.latestVersion;
        return {
          phase,
          migratedVersion: migrated,
          targetVersion: latest,
          latestVersion: latest,
          switchedAtVersion: switchedAt,
          error,
          progress: {
            restoredStores,
            stores,
            bufferedChangesets: kv.last > 0 ? kv.last - Math.max(kv.first - 1, migrated) : 0,
            percent:
              phase === 'switched'
                ? 100
                : stores === 0
                  ? 0
                  : Math.floor((restoredStores / stores) * (phase === 'syncing' ? 100 : 99)),
          },
        };
      });
    }
    printResult(opts, status, () =>
      [
        `phase            ${status.phase}`,
        `migrated version ${status.migratedVersion}`,
        `target version   ${status.targetVersion}`,
        `latest version   ${status.latestVersion}`,
        ...(status.switchedAtVersion !== undefined ? [`switched after   ${status.switchedAtVersion}`] : []),
        ...(status.error !== undefined
          ? [
              `error            ${status.error.code}: ${status.error.message} (the node starts the migration over when it restarts)`,
            ]
          : []),
        `stores restored  ${status.progress.restoredStores}/${status.progress.stores}`,
        `buffered blocks  ${status.progress.bufferedChangesets}`,
      ].join('\n'),
    );
    return EXIT_OK;
  });
}
