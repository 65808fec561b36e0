import { u64be } from '../../encoding/byte-writer.js';
import { utf8 } from '../../encoding/bytes.js';

/**
 * Every key and prefix of a v2 directory (a node home's `v2/`): StateCommitment at the root
 * (`c/` commit records, `s/k:<store>/` trees), StateStorage under `ss/`, and the migration's
 * own state under `m/`. This file is the only place these literals live; docs/formats.md
 * describes each. It imports nothing of the stores, so every layer may use it.
 */
export const V2Keys = {
  /** StateCommitment's commit records: `c/latest`, `c/<version>`. */
  scMetaPrefix: 'c/',
  /** StateCommitment, while a restore is unfinished: JSON `{version, done: [stores]}`. */
  scRestore: utf8('c/restore'),
  /** The end of the `c/restore` range (the record and every store checkpoint under it). */
  scRestoreEnd: utf8('c/restorf'),
  /**
   * StateCommitment's trees were restored with v1's node keys (an Int64Value: the restored
   * height), so later versions may be copied from v1 node for node.
   */
  scNodeKeysOfV1: utf8('c/v1-node-keys'),
  /** StateStorage's MVCC rows. */
  ssPrefix: utf8('ss/'),
  /** The height the migration exports (u64be). */
  height: utf8('m/height'),
  /** The last version migrated into v2 (u64be). */
  migrated: utf8('m/migrated'),
  /** A fingerprint of the v1 the migration reads, so another v1 is refused. */
  source: utf8('m/source'),
  /** The failure a migration stopped with: JSON `{code, message}`. */
  failed: utf8('m/failed'),
  /** The height after which the node switched to v2 (u64be). */
  switched: utf8('m/switched'),
  /** The changeset buffer, as cosmos store/v2's migration writes it. */
  changesetPrefix: 'm/cs_',
  /** The end of the changeset buffer's range (`_` + 1). */
  changesetEnd: utf8('m/cs`'),
} as const;

/** StateCommitment's restore checkpoint of one store. */
export function scRestoreStoreKey(store: string): Uint8Array {
  return utf8(`c/restore/${store}`);
}

/** `m/cs_` + 16 lowercase hex digits of u64be(version). */
export function changesetKey(version: number): Uint8Array {
  return utf8(`${V2Keys.changesetPrefix}${Buffer.from(u64be(version)).toString('hex')}`);
}
