import type { Changeset } from '../../src/encoding/changeset.js';

export const STORES: string[];
export const KEYS_PER_STORE: number;
export function keyOf(i: number): Uint8Array;
export function blockFor(version: number): Changeset;
