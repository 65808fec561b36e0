#!/usr/bin/env bash
# npm run test:go: the live cross-checks against the real Go stores (test/interop/). They need Go
# and the pinned modules; without them this prints one line and skips (exit 0), and never waits
# long on a module proxy that does not answer.
set -uo pipefail
cd "$(dirname "$0")/.."

skip() { echo "test:go skipped: $*"; exit 0; }

command -v go >/dev/null 2>&1 || skip "go is not on PATH (the Go cross-checks need Go 1.23 or later)"
for era in v045 v047 v050; do
  # A bounded download: a proxy that refuses answers at once, one that hangs is cut off.
  if ! out=$(cd "interop/go/$era" && timeout "${GOREF_DOWNLOAD_TIMEOUT:-300}" go mod download 2>&1); then
    skip "the pinned Go modules of $era could not be had ($(printf '%s' "${out:-timed out}" | tail -n 1 | cut -c1-160))"
  fi
done
# Built once per run; the tests start these binaries directly.
bash interop/go/goref build || { echo "test:go: building interop/go failed" >&2; exit 1; }
exec npx vitest run --config vitest.go.config.ts
