import type { KvDb, LevelDatabase } from '../db/kv-db.js';
import type { KVPair, StoreChanges } from '../encoding/changeset.js';
import { StoreMigrateError } from '../errors.js';
import type { TreeLayout } from '../iavl/node-db.js';
import type { CommitInfo } from '../multistore/commit-info.js';
import { MultiStoreV1 } from '../v1/multi-store-v1.js';
import { SeededRandom } from './seeded-random.js';

/**
 * A synthetic store v1 state with history, shaped like a Cosmos chain's: stores named after
 * the usual modules and sized unevenly, keys made of prefix bytes and address-like parts,
 * values mostly small with a long tail of large ones. Version 1 writes most of the keys in
 * one big commit; each later version is block-sized (3% of the keys, at most 5000 changes)
 * and creates, updates and deletes keys. The same options (seed included) always give the
 * same app hash at every version.
 */

export interface SyntheticStateOptions {
  /** Number of stores. Default 4. */
  stores?: number;
  /** Number of live keys after the last version, over all stores. Default 10 000. */
  keys?: number;
  /** Number of versions written. Default 10. */
  versions?: number;
  /** Tree layout of a new database (MultiStoreV1's `layout`). Default legacy. */
  layout?: TreeLayout;
  /** PRNG seed, a non-negative safe integer. Default 1. */
  seed?: number;
}

export interface SyntheticStateProgress {
  /** The version being built or committed. */
  version: number;
  versions: number;
  /**
   * `build`: making the version's changes; `commit`: the multistore is writing them (for
   * version 1, which holds most keys, this is most of the run); `committed`: it is written.
   */
  phase: 'build' | 'commit' | 'committed';
  /** Changes made so far for this version. */
  versionChanges: number;
  /** Changes in the versions committed so far. */
  changesCommitted: number;
  /** Changes over all versions. */
  changesTotal: number;
}

export interface SyntheticStoreStats {
  name: string;
  /** Live keys after the last version. */
  keys: number;
}

export interface SyntheticStateStats {
  versions: number;
  /** Live keys after the last version. */
  keys: number;
  stores: SyntheticStoreStats[];
  /** Keys created, updated and deleted, over all versions. */
  created: number;
  updated: number;
  deleted: number;
  /** Bytes of values written, over all versions. */
  valueBytes: number;
  /** The commit of the last version. */
  lastCommit: CommitInfo;
}

export const SYNTHETIC_DEFAULTS = {
  stores: 4,
  keys: 10_000,
  versions: 10,
  seed: 1,
  layout: 'legacy',
} as const;

// Version 1 writes most keys in one big commit. Each later version is like a block: it
// changes BLOCK_SHARE of the keys, at most BLOCK_MAX_CHANGES, whatever the state's size;
// of those changes CREATE_PART create keys, DELETE_PART delete keys and UPDATE_PART update them.
const BLOCK_SHARE = 0.03;
const BLOCK_MAX_CHANGES = 5000;
const CREATE_PART = 0.4;
const DELETE_PART = 0.15;
const UPDATE_PART = 0.45;
/** Later versions add at most this share of the final keys, so version 1 stays the big one. */
const MAX_LATER_GROWTH = 0.5;
/** Half of the updates go to the hottest HOT_SHARE of a store's keys (balances, rewards...). */
const HOT_SHARE = 0.05;
/** How often (in changes) the build phase reports progress. */
const PROGRESS_EVERY = 16_384;

// ---------------------------------------------------------------------------------------
// Deterministic randomness

/** The synthetic state's PRNG: the project's one seeded PRNG (SeededRandom). */
export { SeededRandom as SyntheticRandom } from './seeded-random.js';

// ---------------------------------------------------------------------------------------
// Store profiles: what a module's keys and values look like

/** One piece of a key. Every family has an `addr`, `seq` or `dec` part, so its keys never repeat. */
type KeyPart =
  /** Constant bytes: a prefix byte, a path segment. */
  | { kind: 'const'; bytes: Uint8Array }
  /** A random address (20 bytes: account, 32 bytes: module or contract), optionally length-prefixed as cosmos-sdk does. */
  | { kind: 'addr'; size: 20 | 32; lengthPrefixed: boolean }
  /** The family's next sequence number as a u64 big-endian (proposal ids, heights, code ids). */
  | { kind: 'seq' }
  /** The family's next sequence number in decimal ASCII (IBC packet sequences). */
  | { kind: 'dec' }
  /** A small random number in decimal ASCII (channel-12). */
  | { kind: 'small'; max: number }
  /** A small random number as a u64 big-endian (a proposal id inside a vote key). */
  | { kind: 'smallU64'; max: number }
  /** One of a few constants (denoms, message types). */
  | { kind: 'pick'; choices: Uint8Array[] }
  /** Random lowercase ASCII of random length (a contract's own keys). */
  | { kind: 'text'; min: number; max: number };

interface KeyFamily {
  weight: number;
  parts: KeyPart[];
  /** Value size range in bytes, drawn log-uniformly. */
  value: [min: number, max: number];
}

interface StoreProfile {
  /** Relative share of the keys. */
  weight: number;
  families: KeyFamily[];
}

const enc = new TextEncoder();
const b = (...bytes: number[]): KeyPart => ({ kind: 'const', bytes: new Uint8Array(bytes) });
const s = (text: string): KeyPart => ({ kind: 'const', bytes: enc.encode(text) });
const addr20: KeyPart = { kind: 'addr', size: 20, lengthPrefixed: true };
const addr32: KeyPart = { kind: 'addr', size: 32, lengthPrefixed: false };
const seq: KeyPart = { kind: 'seq' };
const dec: KeyPart = { kind: 'dec' };
const pick = (...choices: string[]): KeyPart => ({
  kind: 'pick',
  choices: choices.map((c) => enc.encode(c)),
});
const family = (weight: number, value: [number, number], ...parts: KeyPart[]): KeyFamily => ({
  weight,
  value,
  parts,
});

const DENOMS = pick(
  'uatom',
  'uosmo',
  'stake',
  'ibc/27394FB092D2ECCD56123C74F36E4C1F926001CEADA9CA97EA622B25F41E5EB2',
  'ibc/14F9BC3E44B8A9C1BE1FB08980FAB87034C9905EF17CF2F5008FC085218811CC',
  'factory/osmo1z0qrq605sjgcqpylfl4aa6s90x738j7m58wyatt0tdzflg2ha26q67k743/umilk',
);

/** Store names in the order `--stores N` takes them; beyond the list they repeat with a suffix (acc2, bank2, ...). */
const PROFILES: Array<[name: string, profile: StoreProfile]> = [
  [
    'acc',
    {
      weight: 18,
      families: [
        family(90, [80, 240], b(0x01), addr20), // accounts
        family(10, [20, 32], b(0x02), seq), // account number -> address
      ],
    },
  ],
  [
    'bank',
    {
      weight: 30,
      families: [
        family(97, [6, 40], b(0x02), addr20, DENOMS), // balances
        family(3, [8, 300], b(0x01), s('u'), dec), // denom metadata
      ],
    },
  ],
  [
    'staking',
    {
      weight: 14,
      families: [
        family(70, [60, 130], b(0x31), addr20, addr20), // delegations
        family(15, [80, 300], b(0x32), addr20, addr20), // unbonding delegations
        family(8, [100, 350], b(0x34), addr20, addr20, addr20), // redelegations
        family(5, [250, 900], b(0x21), addr20), // validators
        family(2, [1500, 6000], b(0x50), seq), // historical info
      ],
    },
  ],
  [
    'gov',
    {
      weight: 3,
      families: [
        family(75, [20, 90], b(0x20), { kind: 'smallU64', max: 900 }, addr20), // votes
        family(15, [30, 80], b(0x10), { kind: 'smallU64', max: 900 }, addr20), // deposits
        family(10, [300, 8000], b(0x00), seq), // proposals
      ],
    },
  ],
  [
    'distribution',
    {
      weight: 9,
      families: [
        family(60, [30, 60], b(0x04), addr20, addr20), // delegator starting info
        family(25, [60, 300], b(0x05), addr20, seq), // validator historical rewards
        family(10, [40, 500], b(0x02), addr20), // outstanding rewards
        family(5, [20, 20], b(0x03), addr20), // withdraw addresses
      ],
    },
  ],
  [
    'slashing',
    {
      weight: 5,
      families: [
        family(70, [8, 1024], b(0x02), addr20, seq), // missed-block bitmap chunks
        family(30, [40, 80], b(0x01), addr20), // signing infos
      ],
    },
  ],
  ['mint', { weight: 0.02, families: [family(1, [20, 60], b(0x00), seq)] }],
  [
    'params',
    {
      weight: 0.2,
      families: [family(1, [1, 120], pick('auth/', 'bank/', 'staking/', 'gov/', 'ibc/'), s('Param'), dec)],
    },
  ],
  ['upgrade', { weight: 0.1, families: [family(1, [8, 8], b(0x01), s('v'), dec)] }],
  [
    'ibc',
    {
      weight: 8,
      families: [
        family(
          50,
          [32, 32],
          s('commitments/ports/transfer/channels/channel-'),
          { kind: 'small', max: 300 },
          s('/sequences/'),
          dec,
        ),
        family(
          25,
          [1, 1],
          s('receipts/ports/transfer/channels/channel-'),
          { kind: 'small', max: 300 },
          s('/sequences/'),
          dec,
        ),
        family(
          15,
          [32, 32],
          s('acks/ports/transfer/channels/channel-'),
          { kind: 'small', max: 300 },
          s('/sequences/'),
          dec,
        ),
        family(
          10,
          [120, 400],
          s('clients/07-tendermint-'),
          { kind: 'small', max: 200 },
          s('/consensusStates/1-'),
          dec,
        ),
      ],
    },
  ],
  [
    'wasm',
    {
      weight: 25,
      families: [
        family(94, [4, 4096], b(0x03), addr32, { kind: 'text', min: 3, max: 40 }), // contract state
        family(5, [100, 400], b(0x02), addr32), // contract infos
        family(1, [2000, 8000], b(0x01), seq), // codes
      ],
    },
  ],
  ['evidence', { weight: 0.3, families: [family(1, [100, 300], b(0x00), addr32)] }],
  ['feegrant', { weight: 1, families: [family(1, [80, 250], b(0x00), addr20, addr20)] }],
  [
    'authz',
    {
      weight: 1,
      families: [
        family(
          1,
          [100, 300],
          b(0x01),
          addr20,
          addr20,
          pick('/cosmos.bank.v1beta1.MsgSend', '/cosmos.staking.v1beta1.MsgDelegate'),
        ),
      ],
    },
  ],
  ['capability', { weight: 0.3, families: [family(1, [10, 40], b(0x01), seq)] }],
  ['transfer', { weight: 0.5, families: [family(1, [50, 150], b(0x02), addr32)] }],
  ['crisis', { weight: 0.01, families: [family(1, [10, 20], b(0x01), seq)] }],
  ['consensus', { weight: 0.01, families: [family(1, [100, 200], b(0x00), seq)] }],
];

/** The store names `generate --stores n` writes, in generation order. */
export function syntheticStoreNames(n: number): string[] {
  return Array.from({ length: n }, (_, i) => storeName(i));
}

function storeName(i: number): string {
  const base = PROFILES[i % PROFILES.length][0];
  const round = Math.floor(i / PROFILES.length);
  return round === 0 ? base : `${base}${round + 1}`;
}

// ---------------------------------------------------------------------------------------
// Key and value makers

const SCRATCH = new Uint8Array(4096);
const VALUE_POOL_SIZE = 1 << 20;
const BECH32 = enc.encode('qpzry9x8gf2tvdw0s3jn54khce6mua7l');

/** Makes a store's keys: one family chosen by weight, each part written into a scratch buffer. */
class KeyMaker {
  readonly #families: KeyFamily[];
  readonly #cumulative: number[];
  readonly #counters: number[];
  readonly #rng: SeededRandom;

  constructor(profile: StoreProfile, rng: SeededRandom) {
    this.#families = profile.families;
    let sum = 0;
    this.#cumulative = profile.families.map((f) => {
      sum += f.weight;
      return sum;
    });
    this.#counters = profile.families.map(() => 0);
    this.#rng = rng;
  }

  /** Value size range of a family. */
  valueRange(family: number): [number, number] {
    return this.#families[family].value;
  }

  /** A new key and the index of its family. */
  next(): { key: Uint8Array; family: number } {
    const rng = this.#rng;
    const total = this.#cumulative[this.#cumulative.length - 1];
    const r = rng.float() * total;
    let fi = 0;
    while (fi < this.#cumulative.length - 1 && r >= this.#cumulative[fi]) fi++;
    const f = this.#families[fi];
    let o = 0;
    for (const p of f.parts) {
      switch (p.kind) {
        case 'const':
          SCRATCH.set(p.bytes, o);
          o += p.bytes.length;
          break;
        case 'addr':
          if (p.lengthPrefixed) SCRATCH[o++] = p.size;
          rng.fill(SCRATCH, o, p.size);
          o += p.size;
          break;
        case 'seq':
          o = writeU64(SCRATCH, o, ++this.#counters[fi]);
          break;
        case 'dec':
          o = writeDecimal(SCRATCH, o, ++this.#counters[fi]);
          break;
        case 'small':
          o = writeDecimal(SCRATCH, o, rng.int(p.max));
          break;
        case 'smallU64':
          o = writeU64(SCRATCH, o, 1 + rng.int(p.max));
          break;
        case 'pick': {
          const c = p.choices[rng.int(p.choices.length)];
          SCRATCH.set(c, o);
          o += c.length;
          break;
        }
        case 'text': {
          const n = p.min + rng.int(p.max - p.min + 1);
          for (let i = 0; i < n; i++) SCRATCH[o++] = 0x61 + rng.int(26);
          break;
        }
      }
    }
    return { key: SCRATCH.slice(0, o), family: fi };
  }
}

function writeU64(buf: Uint8Array, o: number, n: number): number {
  const hi = Math.floor(n / 0x1_0000_0000);
  const lo = n >>> 0;
  buf[o] = hi >>> 24;
  buf[o + 1] = hi >>> 16;
  buf[o + 2] = hi >>> 8;
  buf[o + 3] = hi;
  buf[o + 4] = lo >>> 24;
  buf[o + 5] = lo >>> 16;
  buf[o + 6] = lo >>> 8;
  buf[o + 7] = lo;
  return o + 8;
}

function writeDecimal(buf: Uint8Array, o: number, n: number): number {
  const digits = String(n);
  for (let i = 0; i < digits.length; i++) buf[o++] = digits.charCodeAt(i);
  return o;
}

/**
 * Values are views into one pool of bytes made once per seed: random runs (hashes, keys)
 * mixed with bech32-like text, so they compress a little, as protobuf values do. Nothing
 * ever writes into a value, so sharing the pool is safe and costs no copy.
 */
class ValueMaker {
  readonly #pool: Uint8Array;
  readonly #rng: SeededRandom;

  constructor(rng: SeededRandom) {
    this.#rng = rng;
    const pool = new Uint8Array(VALUE_POOL_SIZE);
    rng.fill(pool, 0, pool.length);
    for (let i = 0; i < pool.length; i += 64) {
      for (let j = i + 32; j < i + 64; j++) pool[j] = BECH32[pool[j] & 31];
    }
    this.#pool = pool;
  }

  next([min, max]: [number, number]): Uint8Array {
    const len = this.#rng.logUniform(min, max);
    const off = this.#rng.int(VALUE_POOL_SIZE - len);
    return this.#pool.subarray(off, off + len);
  }
}

// ---------------------------------------------------------------------------------------
// The plan: how many keys each store gets, and how the history spreads the changes

interface StorePlan {
  name: string;
  profile: StoreProfile;
  /** Live keys after the last version. */
  keys: number;
  initial: number;
  created: number[];
  deleted: number[];
  updated: number[];
}

/** Splits `total` over `parts` slots as evenly as integers allow. */
function spread(total: number, parts: number): number[] {
  return Array.from(
    { length: parts },
    (_, i) => Math.floor((total * (i + 1)) / parts) - Math.floor((total * i) / parts),
  );
}

function planStores(stores: number, keys: number, versions: number): StorePlan[] {
  const profiles = Array.from({ length: stores }, (_, i) => PROFILES[i % PROFILES.length][1]);
  const weightSum = profiles.reduce((sum, p) => sum + p.weight, 0);
  const counts = profiles.map((p) => Math.floor((keys * p.weight) / weightSum));
  // Hand the rounding remainder out one key at a time, heaviest stores first.
  const order = profiles.map((_, i) => i).sort((x, y) => profiles[y].weight - profiles[x].weight || x - y);
  let left = keys - counts.reduce((sum, n) => sum + n, 0);
  for (let i = 0; left > 0; i = (i + 1) % stores, left--) counts[order[i]]++;
  const later = versions - 1;
  // Changes over all later versions, as shares of the final key count.
  const perVersion = Math.min(Math.round(keys * BLOCK_SHARE), BLOCK_MAX_CHANGES);
  const laterChanges = (perVersion * later) / keys;
  const growth = laterChanges * (CREATE_PART - DELETE_PART);
  const scale = growth > MAX_LATER_GROWTH ? MAX_LATER_GROWTH / growth : 1;
  const createShare = laterChanges * CREATE_PART * scale;
  const deleteShare = laterChanges * DELETE_PART * scale;
  const updateShare = laterChanges * UPDATE_PART * scale;
  return profiles.map((profile, i) => {
    const n = counts[i];
    const created = Math.round(n * createShare);
    const deleted = Math.round(n * deleteShare);
    const updated = Math.round(n * updateShare);
    return {
      name: storeName(i),
      profile,
      keys: n,
      initial: Math.max(0, n - created + deleted),
      created: [0, ...spread(created, later)],
      deleted: [0, ...spread(deleted, later)],
      updated: [0, ...spread(updated, later)],
    };
  });
}

// ---------------------------------------------------------------------------------------
// The generator

function resolveOptions(options: SyntheticStateOptions): Required<SyntheticStateOptions> {
  const o = { ...SYNTHETIC_DEFAULTS, ...stripUndefined(options) };
  for (const name of ['stores', 'keys', 'versions'] as const) {
    if (!Number.isSafeInteger(o[name]) || o[name] < 1) {
      throw new StoreMigrateError('ERR_INVALID_PARAMS', `${name} must be a positive integer, not ${o[name]}`);
    }
  }
  return o;
}

function stripUndefined(o: SyntheticStateOptions): SyntheticStateOptions {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/**
 * Node cache per store while generating: room for the biggest store's whole tree (two nodes
 * per key; the cache keeps between half and all of its budget), so later versions rarely
 * read nodes back from disk.
 */
function generationCacheBytes(plans: StorePlan[]): number {
  const biggest = Math.max(...plans.map((p) => p.keys));
  return Math.min(2 * 1024 ** 3, Math.max(64 * 1024 ** 2, biggest * 2 * 2 * 400));
}

function assertEmpty(ms: MultiStoreV1): void {
  if (ms.layout !== 'rootmulti' || ms.latestVersion !== 0) {
    throw new StoreMigrateError(
      'ERR_VERSION_EXISTS',
      `the database already holds ${ms.layout === 'iavl' ? 'an iavl tree' : `versions up to ${ms.latestVersion}`}; generate writes only into an empty one`,
    );
  }
}

/**
 * Writes a synthetic state into `target`: a new multistore, or a database (which must be
 * empty) that is opened with `syntheticStoreNames(options.stores)`. Versions 1..N are
 * committed one by one; a failure leaves the versions before it committed.
 */
export async function generateSyntheticState(
  target: MultiStoreV1 | LevelDatabase | KvDb,
  options: SyntheticStateOptions = {},
  onProgress?: (p: SyntheticStateProgress) => void,
): Promise<SyntheticStateStats> {
  const o = resolveOptions(options);
  const rng = new SeededRandom(o.seed);
  const plans = planStores(o.stores, o.keys, o.versions);
  const ms = await generationTarget(target, o, plans);
  const gen = new Generation(rng, plans, o.versions, onProgress);
  let lastCommit: CommitInfo | undefined;
  for (let version = 1; version <= o.versions; version++) {
    const changes = gen.changesOf(version);
    gen.report(version, 'commit');
    lastCommit = await ms.commit({ changes }, version);
    gen.committed(version);
  }
  return {
    versions: o.versions,
    keys: gen.live.reduce((sum, k) => sum + k.length, 0),
    stores: plans.map((p, i) => ({ name: p.name, keys: gen.live[i].length })),
    created: gen.created,
    updated: gen.updated,
    deleted: gen.deleted,
    valueBytes: gen.valueBytes,
    lastCommit: lastCommit!,
  };
}

/** The empty multistore to write into, mounting exactly the synthetic stores. */
async function generationTarget(
  target: MultiStoreV1 | LevelDatabase | KvDb,
  o: Required<SyntheticStateOptions>,
  plans: StorePlan[],
): Promise<MultiStoreV1> {
  const names = syntheticStoreNames(o.stores);
  let ms: MultiStoreV1;
  if (target instanceof MultiStoreV1) {
    ms = target;
  } else {
    // Look first: opening with our store names would fail differently on a store with others.
    assertEmpty(await MultiStoreV1.open(target, { readOnly: true }));
    ms = await MultiStoreV1.open(target, {
      stores: names,
      cacheBytes: generationCacheBytes(plans),
      layout: o.layout,
    });
  }
  assertEmpty(ms);
  const mounted = ms.storeNames();
  const wanted = [...names].sort();
  if (mounted.join('\0') !== wanted.join('\0')) {
    throw new StoreMigrateError(
      'ERR_UNKNOWN_STORE',
      `the multistore mounts ${mounted.join(', ') || 'no stores'}, not ${wanted.join(', ')}; open it with stores: syntheticStoreNames(${o.stores})`,
    );
  }
  return ms;
}

/** The state of a generation: live keys per store, counters, and progress reports. */
class Generation {
  readonly live: Uint8Array[][];
  /** The family each live key came from (for the size of updated values). */
  readonly #liveFamily: number[][];
  readonly #keyMakers: KeyMaker[];
  readonly #values: ValueMaker;
  readonly #rng: SeededRandom;
  readonly #plans: StorePlan[];
  readonly #versions: number;
  readonly #onProgress: ((p: SyntheticStateProgress) => void) | undefined;
  readonly #changesTotal: number;
  created = 0;
  updated = 0;
  deleted = 0;
  valueBytes = 0;
  #changesCommitted = 0;
  #versionChanges = 0;
  #sinceReport = 0;

  constructor(
    rng: SeededRandom,
    plans: StorePlan[],
    versions: number,
    onProgress: ((p: SyntheticStateProgress) => void) | undefined,
  ) {
    this.#rng = rng;
    this.#plans = plans;
    this.#versions = versions;
    this.#onProgress = onProgress;
    this.#keyMakers = plans.map((p) => new KeyMaker(p.profile, rng));
    this.#values = new ValueMaker(rng);
    this.live = plans.map(() => []);
    this.#liveFamily = plans.map(() => []);
    let total = 0;
    for (const p of plans) {
      total += p.initial;
      for (let v = 1; v < versions; v++) total += p.created[v] + p.deleted[v] + p.updated[v];
    }
    this.#changesTotal = total;
  }

  report(version: number, phase: SyntheticStateProgress['phase']): void {
    this.#onProgress?.({
      version,
      versions: this.#versions,
      phase,
      versionChanges: this.#versionChanges,
      changesCommitted: this.#changesCommitted,
      changesTotal: this.#changesTotal,
    });
  }

  committed(version: number): void {
    this.#changesCommitted += this.#versionChanges;
    this.report(version, 'committed');
    this.#versionChanges = 0;
  }

  #counted(version: number): void {
    this.#versionChanges++;
    if (++this.#sinceReport >= PROGRESS_EVERY) {
      this.#sinceReport = 0;
      this.report(version, 'build');
    }
  }

  /** The changes of `version`: per store, deletes, then updates, then creates. */
  changesOf(version: number): StoreChanges[] {
    const changes: StoreChanges[] = [];
    for (let si = 0; si < this.#plans.length; si++) {
      const plan = this.#plans[si];
      const pairs: KVPair[] = [];
      this.#deletes(si, version === 1 ? 0 : plan.deleted[version - 1], version, pairs);
      this.#updates(si, version === 1 ? 0 : plan.updated[version - 1], version, pairs);
      this.#creates(si, version === 1 ? plan.initial : plan.created[version - 1], version, pairs);
      if (pairs.length > 0) changes.push({ store: plan.name, pairs });
    }
    return changes;
  }

  #deletes(si: number, n: number, version: number, pairs: KVPair[]): void {
    const keys = this.live[si];
    const fams = this.#liveFamily[si];
    for (let i = 0; i < n && keys.length > 0; i++) {
      // Swap-remove: O(1), and the array stays a dense pool to draw from.
      const at = this.#rng.int(keys.length);
      const key = keys[at];
      keys[at] = keys[keys.length - 1];
      fams[at] = fams[fams.length - 1];
      keys.pop();
      fams.pop();
      pairs.push({ key, remove: true });
      this.deleted++;
      this.#counted(version);
    }
  }

  #updates(si: number, n: number, version: number, pairs: KVPair[]): void {
    const keys = this.live[si];
    const fams = this.#liveFamily[si];
    const rng = this.#rng;
    for (let i = 0; i < n && keys.length > 0; i++) {
      const hot = rng.float() < 0.5;
      const at = hot ? rng.int(Math.max(1, Math.ceil(keys.length * HOT_SHARE))) : rng.int(keys.length);
      const value = this.#values.next(this.#keyMakers[si].valueRange(fams[at]));
      pairs.push({ key: keys[at], value });
      this.valueBytes += value.length;
      this.updated++;
      this.#counted(version);
    }
  }

  #creates(si: number, n: number, version: number, pairs: KVPair[]): void {
    const maker = this.#keyMakers[si];
    for (let i = 0; i < n; i++) {
      const k = maker.next();
      const value = this.#values.next(maker.valueRange(k.family));
      this.live[si].push(k.key);
      this.#liveFamily[si].push(k.family);
      pairs.push({ key: k.key, value });
      this.valueBytes += value.length;
      this.created++;
      this.#counted(version);
    }
  }
}
