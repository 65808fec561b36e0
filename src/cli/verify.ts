import { StoreMigrateError } from '../errors.js';
import { verifyMigration } from '../migration/verify.js';
import { MultiStoreV1 } from '../v1/multi-store-v1.js';
import { openV2 } from '../v2/home/open-v2-dir.js';
import { EXIT_FAILED, EXIT_OK, printResult } from './cli-context.js';
import { type CommandOptions, intOption, openExistingV1, requiredOption, withDatabase } from './options.js';

/** `verify --v1 DIR --v2 DIR [--version N]`: both directions and the root hashes; exit 1 on any difference. */
export async function runVerify(opts: CommandOptions): Promise<number> {
  const v1Path = requiredOption(opts, 'verify', 'v1', '--v1 <dir>');
  const v2Path = requiredOption(opts, 'verify', 'v2', '--v2 <dir>');
  const version = intOption(opts, 'verify', 'version', '--version');
  const v1Db = await openExistingV1(v1Path);
  return withDatabase(v1Db, async () => {
    const v1 = await MultiStoreV1.open(v1Db, { readOnly: true });
    const parts = await openV2(v2Path, v1, { create: false });
    return withDatabase(parts.db, async () => {
      const target = version ?? Math.min(parts.sc.latestVersion || parts.ss.latestVersion, v1.latestVersion);
      if (target === 0)
        throw new StoreMigrateError('ERR_VERSION_NOT_FOUND', `${v2Path} holds no migrated version yet`);
      const r = await verifyMigration(
        v1,
        { ss: parts.ss, sc: parts.sc.latestVersion > 0 ? parts.sc : undefined },
        target,
      );
      const json = {
        ok: r.ok,
        version: r.version,
        appHashV1: r.appHashV1,
        appHashV2: r.appHashV2,
        stores: r.stores.map((s) => ({
          name: s.name,
          ok: s.ok,
          rootHashV1: s.rootHashV1,
          rootHashV2: s.rootHashV2,
          missing: s.missing,
          extra: s.extra,
          mismatched: s.mismatched,
          examples: s.examples,
        })),
      };
      printResult(opts, json, () =>
        [
          `${r.ok ? 'OK' : 'DIFFERENT'}: version ${r.version}`,
          `app hash v1 ${r.appHashV1}`,
          `app hash v2 ${r.appHashV2 ?? '(none)'}`,
          ...r.stores.map(
            (s) =>
              `  ${s.ok ? 'ok  ' : 'DIFF'} ${s.name.padEnd(16)} missing ${s.missing}, extra ${s.extra}, mismatched ${s.mismatched}` +
              (s.rootHashV1 !== s.rootHashV2 ? `, root ${s.rootHashV1} vs ${s.rootHashV2}` : '') +
              (s.examples.length > 0 ? `; e.g. ${s.examples.join(', ')}` : ''),
          ),
        ].join('\n'),
      );
      return r.ok ? EXIT_OK : EXIT_FAILED;
    });
  });
}
