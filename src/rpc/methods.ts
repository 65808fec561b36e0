import { toHex, tryFromHex } from '../encoding/bytes.js';
import type { MigrationStatus } from '../migration/migration-status.js';
import type { RootStore } from '../v2/root/root-store.js';
import { INVALID_PARAMS, JsonRpcError, type JsonRpcMethod, type RawParams } from './json-rpc.js';

/** The status of a running RootStore, in the shape `status --json` prints for a home at rest. */
export function statusDocument(store: RootStore): MigrationStatus {
  return store.status();
}

type ParamKind = 'store' | 'hex' | 'height' | 'boolean';

interface ParamSpec {
  name: string;
  kind: ParamKind;
  required: boolean;
}

type ParamValue = string | Uint8Array | number | boolean | undefined;

function invalidParams(method: string, message: string, param?: string): JsonRpcError {
  return new JsonRpcError(INVALID_PARAMS, `Invalid params: ${method}: ${message}`, {
    code: 'ERR_INVALID_PARAMS',
    ...(param === undefined ? {} : { param }),
  });
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

function checkParam(method: string, spec: ParamSpec, v: unknown): ParamValue {
  // An optional param may be left out, or given as null (handy when passing by position).
  if (v === undefined || v === null) {
    if (spec.required) throw invalidParams(method, `${spec.name} is required`, spec.name);
    return undefined;
  }
  const fail = (what: string, got = kindOf(v)) =>
    invalidParams(method, `${spec.name} must be ${what}, not ${got}`, spec.name);
  switch (spec.kind) {
    case 'store':
      if (typeof v !== 'string' || v.length === 0) throw fail('a non-empty string (a store name)');
      return v;
    case 'hex': {
      if (typeof v !== 'string') throw fail('a hex string');
      const bytes = tryFromHex(v);
      if (bytes === undefined) {
        const h = v.replace(/^0[xX]/, '');
        throw fail(
          'a hex string',
          /^[0-9a-fA-F]*$/.test(h) ? `hex of odd length ${h.length}` : JSON.stringify(v.slice(0, 40)),
        );
      }
      if (bytes.length === 0) throw invalidParams(method, `${spec.name} must not be empty`, spec.name);
      return bytes;
    }
    case 'height':
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
        throw fail(
          'a non-negative integer (0 or absent: the latest)',
          typeof v === 'number' ? String(v) : kindOf(v),
        );
      }
      return v === 0 ? undefined : v;
    case 'boolean':
      if (typeof v !== 'boolean') throw fail('true or false');
      return v;
  }
}

/** Reads params by name (unknown names refused) or by position (in the order of `specs`). */
function readParams(method: string, specs: ParamSpec[], raw: RawParams): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {};
  if (Array.isArray(raw)) {
    if (raw.length > specs.length) {
      throw invalidParams(
        method,
        `takes at most ${specs.length} positional params (${specs.map((s) => s.name).join(', ') || 'none'}), not ${raw.length}`,
      );
    }
    specs.forEach((s, i) => {
      out[s.name] = checkParam(method, s, raw[i]);
    });
    return out;
  }
  const byName = raw ?? {};
  const known = new Set(specs.map((s) => s.name));
  const unknown = Object.keys(byName).filter((k) => !known.has(k));
  if (unknown.length > 0) {
    const expected = specs.length === 0 ? 'no params' : specs.map((s) => s.name).join(', ');
    throw invalidParams(
      method,
      `unknown param ${JSON.stringify(unknown[0])} (expected: ${expected})`,
      unknown[0],
    );
  }
  for (const s of specs)
    out[s.name] = checkParam(method, s, Object.hasOwn(byName, s.name) ? byName[s.name] : undefined);
  return out;
}

function method(
  name: string,
  specs: ParamSpec[],
  run: (p: Record<string, ParamValue>) => Promise<unknown>,
): [string, JsonRpcMethod] {
  return [name, (raw) => run(readParams(name, specs, raw))];
}

const opt = (name: string, kind: ParamKind): ParamSpec => ({ name, kind, required: false });
const req = (name: string, kind: ParamKind): ParamSpec => ({ name, kind, required: true });

/** The RPC contract's methods over a RootStore; keys, values and hashes are lowercase hex. */
export function storeMethods(store: RootStore): Map<string, JsonRpcMethod> {
  return new Map([
    method('migration_status', [], async () => statusDocument(store)),
    method(
      'query',
      [req('store', 'store'), req('key', 'hex'), opt('height', 'height'), opt('prove', 'boolean')],
      async (p) => {
        const r = await store.query(
          p.store as string,
          p.key as Uint8Array,
          p.height as number | undefined,
          (p.prove as boolean | undefined) ?? false,
        );
        return {
          value: r.value === undefined ? null : toHex(r.value),
          height: r.height,
          ...(r.proof === undefined
            ? {}
            : {
                proof: {
                  ops: r.proof.ops.map((op) => ({ type: op.type, key: toHex(op.key), data: toHex(op.data) })),
                },
              }),
        };
      },
    ),
    method('commit_info', [opt('height', 'height')], async (p) => {
      const ci = await store.commitInfo(p.height as number | undefined);
      return {
        height: ci.version,
        appHash: toHex(ci.appHash),
        stores: ci.stores.map((s) => ({ name: s.name, version: s.version, hash: toHex(s.hash) })),
      };
    }),
  ]);
}
