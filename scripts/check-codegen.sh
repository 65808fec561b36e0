#!/usr/bin/env bash
# Verify that the checked-in generated code (src/gen) is up to date with proto/.
#
# Regenerates into a temporary directory (via `buf generate --output`, so the
# working tree is never touched and git state does not matter) and compares it
# with src/gen. Exits non-zero if anything would change, including added or
# removed files.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# Must match `out` in buf.gen.yaml.
gen_dir="src/gen"

# Use the pinned buf and protoc-gen-es from node_modules (local plugin, offline).
export PATH="$root/node_modules/.bin:$PATH"
for bin in buf protoc-gen-es; do
  if ! command -v "$bin" >/dev/null 2>&1; then
    echo "check-codegen: '$bin' not found in node_modules/.bin; run npm ci first" >&2
    exit 2
  fi
done

tmp="$(mktemp -d "${TMPDIR:-/tmp}/check-codegen.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# In buf v2 configs, each plugin's `out` is resolved relative to --output.
buf generate --output "$tmp"

if [[ ! -d "$tmp/$gen_dir" ]]; then
  echo "check-codegen: buf generate produced nothing under $gen_dir (is buf.gen.yaml out still $gen_dir?)" >&2
  exit 2
fi
if [[ ! -d "$gen_dir" ]]; then
  echo "check-codegen: $gen_dir is missing; run 'npm run generate'" >&2
  exit 1
fi

if ! diff -ru "$gen_dir" "$tmp/$gen_dir" >"$tmp/codegen.diff" 2>&1; then
  sed "s|$tmp/|<regenerated>/|g" "$tmp/codegen.diff" >&2
  echo >&2
  echo "check-codegen: $gen_dir is out of date with proto/; run 'npm run generate' and commit the result" >&2
  exit 1
fi

echo "check-codegen: $gen_dir is up to date"
