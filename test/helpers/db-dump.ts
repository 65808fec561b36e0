import { KvDb, type LevelDatabase } from '../../src/db/kv-db.js';

/** Every raw key and value of a database, as hex, to prove that nothing was written. */
export async function dumpDb(db: LevelDatabase): Promise<string[]> {
  const out: string[] = [];
  for await (const [k, v] of new KvDb(db).iterate())
    out.push(`${Buffer.from(k).toString('hex')}=${Buffer.from(v).toString('hex')}`);
  return out;
}
