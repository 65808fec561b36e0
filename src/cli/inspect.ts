import { MultiStoreV1 } from '../v1/multi-store-v1.js';
import { EXIT_OK, printResult } from './cli-context.js';
import { type CommandOptions, intOption, openExistingV1, requiredOption, withDatabase } from './options.js';
import { formatV1Summary, summarizeV1 } from './v1-summary.js';

/** `inspect --v1 DIR [--version N]`: what a v1 database (rootmulti, or a bare iavl tree) holds. */
export async function runInspect(opts: CommandOptions): Promise<number> {
  const path = requiredOption(opts, 'inspect', 'v1', '--v1 <dir>');
  const version = intOption(opts, 'inspect', 'version', '--version');
  const db = await openExistingV1(path);
  return withDatabase(db, async () => {
    const ms = await MultiStoreV1.open(db, { readOnly: true });
    const summary = await summarizeV1(ms, version);
    printResult(opts, summary, () => formatV1Summary(summary, path));
    return EXIT_OK;
  });
}
