#!/usr/bin/env bash
# npm run test:go: the live cross-checks against the real Go stores (test/interop/). They need Go
# and the pinned modules; without them this prints one line and skips (exit 0), and never waits
# long on a module proxy that does not answer.
set -uo pipefail
cd "$(dirname "$0")/.."

skip() { echo "test:go skipped: $*"; exit 0; }

command -v go >/dev/null 2>&1 || skip "go is not on PATH (the Go cross-checks need Go 1.23 or later)"
mkdir -p interop/go/bin
for era in v045 v047 v050; do
  # Built once per run; the tests start these binaries directly. The build fetches only the
  # modules it needs, bounded in time: a proxy that refuses answers at once, one that hangs is
  # cut off. A failure to fetch is a skip; a failure to compile is a failure.
  out=$(cd "interop/go/$era" && CGO_ENABLED=0 timeout "${GOREF_BUILD_TIMEOUT:-600}" go build -o "../bin/goref-$era" . 2>&1)
  status=$?
  if [ $status -eq 124 ]; then
    skip "building interop/go/$era timed out fetching its modules"
  elif [ $status -ne 0 ]; then
    if printf '%s' "$out" | grep -qE 'GOPROXY|GOFLAGS=-mod|proxy\.golang|dial tcp|no such host|i/o timeout|connection refused|TLS handshake|403 Forbidden|404 Not Found|unrecognized import path|verifying module'; then
      skip "the pinned Go modules of $era could not be had ($(printf '%s' "$out" | grep -m1 -E 'GOPROXY|proxy|dial tcp|no such host|timeout|refused|TLS|403|404|unrecognized|verifying' | cut -c1-160))"
    fi
    printf '%s\n' "$out" >&2
    echo "test:go: building interop/go/$era failed" >&2
    exit 1
  fi
done
exec npx vitest run --config vitest.go.config.ts
