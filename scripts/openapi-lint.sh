#!/usr/bin/env bash
# Validate the served OpenAPI document with two independent tools, both pinned:
# openapi-spec-validator (the OpenAPI 3.1 schema) and `redocly lint` (its recommended rules,
# configured in redocly.yaml). Exits non-zero on any error of either.
#
#   cargo build -p opportunities && scripts/openapi-lint.sh
#
# Starts the already-built server (${OPPORTUNITIES_BIN:-target/debug/opportunities}) on a fresh
# temporary SQLite database, the way scripts/schemathesis.sh does, and checks the document it
# serves at GET /api/v1/openapi.json: the one clients see, not a copy that could drift.
# The tools go into git-ignored places under target/ and are reused when the pinned version is
# there (a first run needs PyPI and the npm registry).
set -euo pipefail

OPENAPI_SPEC_VALIDATOR_VERSION=0.9.0
REDOCLY_CLI_VERSION=2.77.0

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bin=${OPPORTUNITIES_BIN:-target/debug/opportunities}
venv=$root/target/openapi-lint-venv
node_dir=$root/target/openapi-lint-node

log() { printf 'openapi-lint.sh: %s\n' "$*" >&2; }
# shellcheck source=lib/server.sh
source scripts/lib/server.sh

if [[ ! -x $bin ]]; then
    log "no server binary at $bin; run \`cargo build -p opportunities\` first or set OPPORTUNITIES_BIN"
    exit 2
fi

installed=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("openapi-spec-validator"))' 2>/dev/null || true)
if [[ $installed != "$OPENAPI_SPEC_VALIDATOR_VERSION" ]]; then
    log "installing openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION into $venv"
    [[ -x $venv/bin/python ]] || "${PYTHON:-python3}" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION"
fi
redocly=$node_dir/node_modules/.bin/redocly
if [[ $("$redocly" --version 2>/dev/null || true) != "$REDOCLY_CLI_VERSION" ]]; then
    log "installing @redocly/cli@$REDOCLY_CLI_VERSION into $node_dir"
    mkdir -p "$node_dir"
    npm install --silent --no-audit --no-fund --prefix "$node_dir" "@redocly/cli@$REDOCLY_CLI_VERSION"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/opportunities-openapi-lint.XXXXXX")
cleanup() {
    stop_server
    rm -rf "$tmp"
}
trap cleanup EXIT
start_server "$tmp"

document=$tmp/openapi.json
curl -fsS "$server_url/api/v1/openapi.json" -o "$document"

status=0
log "openapi-spec-validator $OPENAPI_SPEC_VALIDATOR_VERSION"
"$venv/bin/openapi-spec-validator" "$document" || status=1
log "redocly lint ($REDOCLY_CLI_VERSION, rules from redocly.yaml)"
"$redocly" lint --config "$root/redocly.yaml" "$document" || status=1
exit "$status"
