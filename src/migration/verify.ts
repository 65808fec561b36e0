import { compareBytes, equalBytes, toHex } from '../encoding/bytes.js';
import { isStoreMigrateError, StoreMigrateError } from '../errors.js';
import { isTreeless } from '../multistore/commit-info.js';
import type { CommitStore } from '../multistore/commit-store.js';
import type { StateCommitment } from '../v2/commitment/state-commitment.js';
import type { StateStorage } from '../v2/storage/state-storage.js';

export interface StoreVerification {
  name: string;
  ok: boolean;
  rootHashV1: string | undefined;
  rootHashV2: string | undefined;
  /** Keys in v1 that v2 lacks. */
  missing: number;
  /** Keys in v2 that v1 lacks. */
  extra: number;
  /** Keys whose values differ. */
  mismatched: number;
  /** Up to five differing keys (hex), to start an investigation. */
  examples: string[];
}

export interface VerifyResult {
  ok: boolean;
  version: number;
  appHashV1: string;
  appHashV2: string | undefined;
  stores: StoreVerification[];
}

/** Walks both sorted key streams together, counting missing, extra and mismatched keys into `sv`. */
async function compareKeys(
  v1Keys: Iterable<[Uint8Array, Uint8Array]>,
  v2Keys: AsyncIterable<[Uint8Array, Uint8Array]>,
  sv: StoreVerification,
): Promise<void> {
  const note = (k: Uint8Array) => {
    if (sv.examples.length < 5) sv.examples.push(toHex(k));
  };
  const a = v1Keys[Symbol.iterator]();
  const b = v2Keys[Symbol.asyncIterator]();
  let x = a.next();
  let y = await b.next();
  while (!x.done || !y.done) {
    const c = x.done ? 1 : y.done ? -1 : compareBytes(x.value[0], y.value![0]);
    if (c === 0) {
      if (!equalBytes(x.value![1], y.value![1])) {
        sv.mismatched++;
        note(x.value![0]);
      }
      x = a.next();
      y = await b.next();
    } else if (c < 0) {
      sv.missing++;
      note(x.value![0]);
      x = a.next();
    } else {
      sv.extra++;
      note(y.value![0]);
      y = await b.next();
    }
  }
}

/**
 * Compares v1 and v2 at `version`: every key of every store in both directions (v1's IAVL
 * tree against StateStorage) and the root and app hashes (v1's commit info against
 * StateCommitment's). Reads both sides as sorted streams, so memory stays flat.
 */
export async function verifyMigration(
  v1: CommitStore,
  v2: { ss: StateStorage; sc?: StateCommitment },
  version: number,
): Promise<VerifyResult> {
  const ci1 = await v1.getCommitInfo(version);
  let ci2: Awaited<ReturnType<StateCommitment['getCommitInfo']>> | undefined;
  try {
    ci2 = v2.sc ? await v2.sc.getCommitInfo(version) : undefined;
  } catch (err) {
    if (!isStoreMigrateError(err, 'ERR_VERSION_NOT_FOUND') && !isStoreMigrateError(err, 'ERR_VERSION_PRUNED'))
      throw err;
  }
  if (v2.ss.latestVersion === 0 || version > v2.ss.latestVersion || version < v2.ss.earliestVersion) {
    throw new StoreMigrateError(
      'ERR_VERSION_NOT_FOUND',
      `v2 does not hold version ${version} (StateStorage has ${v2.ss.earliestVersion}..${v2.ss.latestVersion})`,
    );
  }
  const names = [
    ...new Set([...ci1.stores.map((s) => s.name), ...(ci2?.stores.map((s) => s.name) ?? [])]),
  ].sort();
  const stores: StoreVerification[] = [];
  for (const name of names) {
    const r1 = ci1.stores.find((s) => s.name === name)?.hash;
    const r2 = ci2?.stores.find((s) => s.name === name)?.hash;
    const sv: StoreVerification = {
      name,
      ok: true,
      rootHashV1: r1 ? toHex(r1) : undefined,
      rootHashV2: r2 ? toHex(r2) : undefined,
      missing: 0,
      extra: 0,
      mismatched: 0,
      examples: [],
    };
    const e1 = ci1.stores.find((s) => s.name === name);
    // A memory store (empty commit id, no tree) has no keys on either side.
    const a = e1 && !isTreeless(e1) ? (await v1.immutable(name, version)).iterate() : [];
    await compareKeys(a, v2.ss.iterate(name, version), sv);
    sv.ok =
      sv.missing === 0 &&
      sv.extra === 0 &&
      sv.mismatched === 0 &&
      (!v2.sc || sv.rootHashV1 === sv.rootHashV2);
    stores.push(sv);
  }
  const appHashV1 = toHex(ci1.appHash);
  const appHashV2 = ci2 ? toHex(ci2.appHash) : undefined;
  const ok = stores.every((s) => s.ok) && (!v2.sc || appHashV1 === appHashV2);
  return { ok, version, appHashV1, appHashV2, stores };
}
