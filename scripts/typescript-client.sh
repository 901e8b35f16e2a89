#!/usr/bin/env bash
# The TypeScript client (clients/typescript): installs its pinned dev tools from the lock file,
# regenerates its types from the OpenAPI document the built server serves and fails if they
# differ from the committed ones, builds it, and runs its tests (Node's test runner: the seed's
# snippets and the client's own tests) against that server.
#
#   cargo build -p opportunities && scripts/typescript-client.sh
#
# Starts the already-built server (${OPPORTUNITIES_BIN:-target/debug/opportunities}) on a fresh
# temporary SQLite database with a bootstrap owner token; the tests get it from
# OPPORTUNITIES_URL and OPPORTUNITIES_TOKEN. Needs Node.js 20+ and, on a first run, the npm
# registry. After a change to the API, regenerate the types and commit them:
#   UPDATE_TYPES=1 scripts/typescript-client.sh
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bin=${OPPORTUNITIES_BIN:-target/debug/opportunities}
client=clients/typescript
generated=$client/src/generated/openapi.ts

log() { printf 'typescript-client.sh: %s\n' "$*" >&2; }
# shellcheck source=lib/server.sh
source scripts/lib/server.sh

if [[ ! -x $bin ]]; then
    log "no server binary at $bin; run \`cargo build -p opportunities\` first or set OPPORTUNITIES_BIN"
    exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/opportunities-typescript.XXXXXX")
cleanup() {
    stop_server
    [[ -n ${KEEP_TMP:-} ]] || rm -rf "$tmp"
}
trap cleanup EXIT

log "npm ci"
(cd "$client" && npm ci --prefer-offline --no-audit --no-fund --silent)

token="opp_typescript_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
start_server "$tmp" OPPORTUNITIES_BOOTSTRAP_TOKEN="$token" OPPORTUNITIES_LOG_FORMAT=json
log "server $bin (pid $server_pid) listening on $server_url"

log "generating $generated from the served document"
(cd "$client" && OPENAPI_URL="$server_url/api/v1/openapi.json" npm run --silent generate)
if [[ -z ${UPDATE_TYPES:-} ]] && ! { git ls-files --error-unmatch "$generated" && git diff --exit-code --stat -- "$generated"; } >&2; then
    log "$generated differs from what the server's OpenAPI document gives: run UPDATE_TYPES=1 $0 and commit it"
    exit 1
fi

log "build and tests"
(cd "$client" && OPPORTUNITIES_URL=$server_url OPPORTUNITIES_TOKEN=$token npm test --silent) || {
    log "tests failed; the server's warnings and errors:"
    grep -E '"level":"(WARN|ERROR)"' "$tmp/server.err" | tail -n 40 >&2 || true
    exit 1
}
