#!/usr/bin/env bash
# Every test: on SQLite, and on PostgreSQL when there is one. This is the README's test command.
#
#   scripts/test.sh                                       # the whole workspace, the browser tests, the TypeScript client
#   scripts/test.sh -p opportunities-store --test contract # or what these cargo test options select
#
# PostgreSQL tests are marked #[ignore] (the only use of #[ignore] here), so that a run without
# PostgreSQL lists them as ignored, never as passed; with a database this script runs them too
# (`-- --include-ignored`). The database: the one OPPORTUNITIES_TEST_POSTGRES_URL names, if set;
# otherwise a server answering on 127.0.0.1 (port $PGPORT, 5432 by default) as user postgres,
# in which the database opportunities_test is created afresh (tests make a schema each).
# With OPPORTUNITIES_TEST_REQUIRE_POSTGRES=1 (as in CI), finding no PostgreSQL is an error.
set -euo pipefail
cd "$(dirname "$0")/.."

whole=0
[ $# -gt 0 ] || { whole=1; set -- --workspace; }
port=${PGPORT:-5432}
if [ -z "${OPPORTUNITIES_TEST_POSTGRES_URL:-}" ] && command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p "$port"; then
  if psql -q -h 127.0.0.1 -p "$port" -U postgres -d postgres \
    -c "DROP DATABASE IF EXISTS opportunities_test" -c "CREATE DATABASE opportunities_test"; then
    export OPPORTUNITIES_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/opportunities_test"
  else
    echo "*** PostgreSQL answers on 127.0.0.1:$port, but the database opportunities_test could not be made afresh ***" >&2
  fi
fi

if [ -n "${OPPORTUNITIES_TEST_POSTGRES_URL:-}" ]; then
  cargo test "$@" -- --include-ignored
else
  if [ "${OPPORTUNITIES_TEST_REQUIRE_POSTGRES:-}" = 1 ]; then
    echo "No PostgreSQL on 127.0.0.1:$port and OPPORTUNITIES_TEST_POSTGRES_URL is not set" >&2
    exit 1
  fi
  echo "*** No PostgreSQL found: its tests run on SQLite only and are listed as ignored ***" >&2
  cargo test "$@"
fi

# The whole suite goes on outside cargo: the web UI in Chromium, and the TypeScript client
# running the seed's snippets, both against the built binary.
if [ $whole = 1 ]; then
  cargo build -q -p opportunities
  OPPORTUNITIES_BIN=$(realpath "${CARGO_TARGET_DIR:-target}/debug/opportunities")
  export OPPORTUNITIES_BIN
  scripts/browser-test.sh
  scripts/typescript-client.sh
fi
