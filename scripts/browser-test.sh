#!/usr/bin/env bash
# The web UI's tests in a real browser: Debian's Chromium driven by playwright-core, against the
# built `opportunities` binary, on SQLite and (when there is one) PostgreSQL. scripts/test.sh runs
# this after the Rust tests; run it alone after `cargo build -p opportunities`:
#
#   scripts/browser-test.sh [node --test options or test files]
#
# On a fresh machine it installs Chromium (apt, as root) and the pinned npm packages (npm ci).
# PostgreSQL: the database OPPORTUNITIES_TEST_POSTGRES_URL names (each server gets a new schema).
# Without a browser or without PostgreSQL the affected runs are reported as SKIPPED, never as
# passed; with OPPORTUNITIES_TEST_REQUIRE_POSTGRES=1 (CI) a missing one is a failure.
# OPPORTUNITIES_SCREENSHOTS=DIR keeps the screenshots the tests take (docs/ holds the published ones).
set -euo pipefail
cd "$(dirname "$0")/.."
tests=crates/web/browser-tests
required=${OPPORTUNITIES_TEST_REQUIRE_POSTGRES:-}

skip() {
  echo "*** SKIPPED: browser tests on $1 ***" >&2
  if [ "$required" = 1 ]; then exit 1; fi
}

if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    skip "every backend: no chromium (apt-get install chromium)"
    exit 0
  fi
fi
(cd "$tests" && npm ci --no-audit --no-fund --silent)

export OPPORTUNITIES_BIN=${OPPORTUNITIES_BIN:-${CARGO_TARGET_DIR:-target}/debug/opportunities}
export OPPORTUNITIES_BIN=$(realpath "$OPPORTUNITIES_BIN")
export CHROMIUM=${CHROMIUM:-$(command -v chromium)}
cd "$tests"

echo "browser tests on SQLite" >&2
env -u OPPORTUNITIES_BROWSER_POSTGRES_URL node --test --test-concurrency=1 "$@"
if [ -n "${OPPORTUNITIES_TEST_POSTGRES_URL:-}" ]; then
  echo "browser tests on PostgreSQL" >&2
  OPPORTUNITIES_BROWSER_POSTGRES_URL=$OPPORTUNITIES_TEST_POSTGRES_URL node --test --test-concurrency=1 "$@"
else
  skip "PostgreSQL: OPPORTUNITIES_TEST_POSTGRES_URL is not set"
fi
