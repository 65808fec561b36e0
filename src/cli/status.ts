import { existsSync } from 'node:fs';
import { readU64be } from '../encoding/byte-writer.js';
import { StoreMigrateError } from '../errors.js';
import { type MigrationStatus, migrationStatus } from '../migration/migration-status.js';
import { MultiStoreV1 } from '../v1/multi-store-v1.js';
import { openV2 } from '../v2/home/open-v2-dir.js';
import { V2Keys } from '../v2/home/v2-keys.js';
import { homePaths } from '../v2/root/node-home.js';
import { EXIT_OK, printResult } from './cli-context.js';
import { type CommandOptions, openExistingV1, requiredOption, withDatabase } from './options.js';

/** `status --home DIR`: the migration phase and progress of a node home that is not running. */
export async function runStatus(opts: CommandOptions): Promise<number> {
  const home = requiredOption(opts, 'status', 'home', '--home <dir>');
  const { v1Path, v2Path } = homePaths(home);
  if (!existsSync(home))
    throw new StoreMigrateError('ERR_NOT_FOUND', `no node home at ${home}: the directory does not exist`);
  const v1Db = await openExistingV1(v1Path);
  return withDatabase(v1Db, async () => {
    const v1 = await MultiStoreV1.open(v1Db, { readOnly: true });
    const status = existsSync(v2Path) ? await statusAtRest(v1, v2Path) : notStarted(v1);
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

/** A home whose v2 directory does not exist yet. */
function notStarted(v1: MultiStoreV1): MigrationStatus {
  return migrationStatus({
    stores: v1.storeNames(),
    v1LatestVersion: v1.latestVersion,
    v2LatestVersion: 0,
    height: 0,
    migratedVersion: 0,
    switchedAtVersion: undefined,
    failure: undefined,
    restoredStores: [],
    buffer: { first: 0, last: 0 },
  });
}

/** What v2 holds, read without starting anything, through the one status model. */
async function statusAtRest(v1: MultiStoreV1, v2Path: string): Promise<MigrationStatus> {
  const parts = await openV2(v2Path, v1, { create: false });
  return withDatabase(parts.db, async () => {
    const m = parts.manager;
    const switchedRaw = await parts.sc.kv.get(V2Keys.switched);
    const restore = await parts.sc.kv.get(V2Keys.scRestore);
    return migrationStatus({
      stores: v1.storeNames(),
      v1LatestVersion: v1.latestVersion,
      v2LatestVersion: parts.sc.latestVersion,
      height: m.height,
      migratedVersion: m.migratedVersion,
      switchedAtVersion: switchedRaw ? readU64be(switchedRaw, 0) : undefined,
      failure: await m.recordedFailure(),
      restoredStores: restore ? (JSON.parse(new TextDecoder().decode(restore)).done as string[]) : [],
      buffer: { first: m.buffer.first, last: m.buffer.last },
    });
  });
}
