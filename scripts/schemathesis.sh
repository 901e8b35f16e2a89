#!/usr/bin/env bash
# Fuzz the HTTP API against its own OpenAPI document with Schemathesis.
#
# Starts the already-built server (${OPPORTUNITIES_BIN:-target/debug/opportunities}) on a fresh
# temporary SQLite database with a bootstrap owner token, seeds a few records, points
# Schemathesis at GET /api/v1/openapi.json with that token (every operation, every phase, all
# checks), and exits non-zero if Schemathesis reports any failure or error, if the server dies,
# or if the run locked its own token out.
#
#   cargo build -p opportunities && scripts/schemathesis.sh [extra `schemathesis run` options]
#
# Tunables (environment):
#   OPPORTUNITIES_BIN            server binary (target/debug/opportunities)
#   SCHEMATHESIS_MAX_TIME        time budget of the main pass, seconds (150); Schemathesis shares
#                                it between phases and operations, repeats fuzzing and stateful
#                                cycles until it is spent, and then reports normally
#   SCHEMATHESIS_MAX_EXAMPLES    test cases per operation, phase and cycle (100)
#   SCHEMATHESIS_CHECKS          checks to run (CI: no server error and every response within the
#                                document; `all` adds the request-side checks, useful to find
#                                where the document is looser or stricter than the handlers)
#   SCHEMATHESIS_WORKERS         concurrent workers (1: Hypothesis parses lambdas with `ast`,
#                                which is not thread-safe on CPython 3.11, so 2+ can fail
#                                spuriously with "AST constructor recursion depth mismatch")
#   SCHEMATHESIS_SEED            random seed, to replay a run (random; printed at the end)
#   SCHEMATHESIS_REPORT_DIR      JUnit + NDJSON reports, the server log, and the working directory
#                                of Schemathesis, whose .schemathesis/ lets `st replay <id>` run
#                                there (target/schemathesis-report)
#   PYTHON                       interpreter for the venv (python3)
# Extra arguments go to every `schemathesis run`, e.g. `--seed 123` or `--no-shrink`.
# A run takes SCHEMATHESIS_MAX_TIME + about 20 s (under 3 minutes by default, plus the pip
# install on the first run); a pass that hangs is killed after twice its budget plus a minute.
set -euo pipefail

SCHEMATHESIS_VERSION=4.32.5

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

venv=$root/target/schemathesis-venv
bin=${OPPORTUNITIES_BIN:-target/debug/opportunities}
max_examples=${SCHEMATHESIS_MAX_EXAMPLES:-100}
max_time=${SCHEMATHESIS_MAX_TIME:-150}
workers=${SCHEMATHESIS_WORKERS:-1}
report_dir=$(realpath -m "${SCHEMATHESIS_REPORT_DIR:-target/schemathesis-report}")
checks=${SCHEMATHESIS_CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance}

log() { printf 'schemathesis.sh: %s\n' "$*" >&2; }

if [[ ! -x $bin ]]; then
    log "no server binary at $bin; run \`cargo build -p opportunities\` first or set OPPORTUNITIES_BIN"
    exit 2
fi
command -v curl >/dev/null || { log "curl is required"; exit 2; }

# --- Schemathesis, pinned, in a git-ignored venv (reused when the pinned version is there) ---
installed=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null || true)
if [[ $installed != "$SCHEMATHESIS_VERSION" ]]; then
    log "installing schemathesis==$SCHEMATHESIS_VERSION into $venv"
    [[ -x $venv/bin/python ]] || "${PYTHON:-python3}" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
py() { "$venv/bin/python" "$@"; }

# Reports of earlier runs would read as this one's.
rm -f "$report_dir"/junit-*.xml "$report_dir"/ndjson-*.ndjson "$report_dir/server.log"

# --- The server, on a fresh database, stopped whatever happens ---
tmp=$(mktemp -d "${TMPDIR:-/tmp}/opportunities-schemathesis.XXXXXX")
server_pid=
cleanup() {
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [[ -f $tmp/server.err ]]; then
        mkdir -p "$report_dir" && cp "$tmp/server.err" "$report_dir/server.log" || true
    fi
    [[ -n ${KEEP_TMP:-} ]] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

token="opp_schemathesis_$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
# No webhook worker: fuzzed webhooks name arbitrary public URLs, which must not receive POSTs.
OPPORTUNITIES_BOOTSTRAP_TOKEN=$token OPPORTUNITIES_LOG_FORMAT=json \
    "$bin" serve --listen 127.0.0.1:0 --database "sqlite://$tmp/schemathesis.db" --deliver-webhooks false \
    >"$tmp/server.out" 2>"$tmp/server.err" &
server_pid=$!

server_startup_failed() {
    log "$1"; cat "$tmp/server.out" >&2 || true; tail -n 40 "$tmp/server.err" >&2 || true; exit 1
}
address=
for _ in $(seq 300); do
    address=$(sed -n 's/.*"listening":"\([^"]*\)".*/\1/p' "$tmp/server.out" | head -n 1)
    [[ -n $address ]] && break
    kill -0 "$server_pid" 2>/dev/null || server_startup_failed "the server exited before listening"
    sleep 0.1
done
[[ -n $address ]] || server_startup_failed "the server did not print its listening line within 30 s"
base="http://$address"
api="$base/api/v1"
log "server $bin (pid $server_pid) listening on $base"

# --- Seed data, so that operations on /{id} reach their logic instead of answering 404 ---
# Schemathesis cannot infer links from the POST responses (the id is inside the envelope), so
# the ids created here are offered to it through dictionaries in a generated config file: it
# uses them for most cases and still generates random (and invalid) ids for the rest.
post() { # post PATH JSON [FIELD] -> prints data.FIELD (default id)
    curl -fsS -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' --data "$2" "$api$1" |
        py -c 'import json, sys; print(json.load(sys.stdin)["data"][sys.argv[1]])' "${3:-id}"
}
category=$(post /opportunity-categories '{"name":"Seed category","color":"#10b981"}')
client=$(post /clients '{"name":"Seed Client","email":"seed.client@example.com","phone":"+15550000001"}')
member=$(post /staff '{"name":"Seed Member","email":"seed.member@example.com","role":"member"}')
member_token=$(post "/staff/$member/tokens" '{"name":"seed"}')
opportunities=()
for i in 1 2 3; do
    id=$(post /opportunities "{\"title\":\"Seed lead $i\",\"prospect_name\":\"Prospect $i\",
        \"prospect_email\":\"prospect$i@example.com\",\"source\":\"website\",\"estimated_value\":250.5,
        \"category_id\":\"$category\",\"assigned_to\":\"$member\",\"follow_up_date\":\"2026-01-01T10:00:00Z\"}")
    opportunities+=("$id")
done
id=$(post /opportunities "{\"title\":\"Seed client lead\",\"client_id\":\"$client\"}")
opportunities+=("$id")
doomed=$(post /opportunities '{"title":"Seed lead to delete","prospect_name":"Prospect to delete"}')
post "/opportunities/${opportunities[0]}/notes" '{"content":"Seed note"}' >/dev/null
post "/opportunities/${opportunities[0]}/activities" '{"activity_type":"call","description":"Seed call","outcome":"Voicemail"}' >/dev/null
# Lead forms, where the served document has them.
lead_form= form_key=
if curl -fsS "$api/openapi.json" | py -c 'import json, sys; sys.exit("/api/v1/lead-forms" not in json.load(sys.stdin)["paths"])'; then
    form_body="{\"name\":\"Seed form\",\"category_id\":\"$category\",\"assigned_to\":\"$member\",\"allowed_origins\":[\"https://clinic.example\"]}"
    lead_form=$(post /lead-forms "$form_body")
    form_key=$(curl -fsS -H "Authorization: Bearer $token" "$api/lead-forms" |
        py -c 'import json, sys; print(next(f["form_key"] for f in json.load(sys.stdin)["data"] if f["id"] == sys.argv[1]))' "$lead_form")
fi
log "seeded a category, a client, a staff member, a token, $((${#opportunities[@]} + 1)) opportunities${lead_form:+ and a lead form}"

toml_list() { local out= v; for v in "$@"; do out+="${out:+, }\"$v\""; done; printf '[%s]' "$out"; }
config="$tmp/schemathesis.toml"
{
    cat <<TOML
[dictionaries]
opportunity-ids = { values = $(toml_list "${opportunities[@]}") }
doomed-ids = { values = $(toml_list "$doomed") }
client-ids = { values = $(toml_list "$client") }
staff-ids = { values = $(toml_list "$member") }
category-ids = { values = $(toml_list "$category") }
token-ids = { values = $(toml_list "$member_token") }

# Only the first entry that matches an operation supplies its parameters: keep them disjoint.
[[operations]]
include-path-regex = '^/api/v1/opportunities/\{id\}$'
include-method = "DELETE"
parameters = { "path.id" = { dictionary = "doomed-ids", probability = 0.5 } }

[[operations]]
include-path-regex = '^/api/v1/opportunities(/\{id\})?$'
include-method = ["POST", "PATCH"]
parameters = { "path.id" = { dictionary = "opportunity-ids", probability = 0.8 }, "body.client_id" = { dictionary = "client-ids", probability = 0.5 }, "body.category_id" = { dictionary = "category-ids", probability = 0.5 }, "body.assigned_to" = { dictionary = "staff-ids", probability = 0.5 } }

[[operations]]
include-path-regex = '^/api/v1/opportunities/\{id\}'
parameters = { "path.id" = { dictionary = "opportunity-ids", probability = 0.8 } }

[[operations]]
include-path-regex = '^/api/v1/opportunities(/stats)?$'
include-method = "GET"
parameters = { "query.assigned_to" = { dictionary = "staff-ids", probability = 0.5 }, "query.category_id" = { dictionary = "category-ids", probability = 0.5 }, "query.client_id" = { dictionary = "client-ids", probability = 0.5 } }

[[operations]]
include-path-regex = '^/api/v1/clients/\{id\}'
parameters = { "path.id" = { dictionary = "client-ids", probability = 0.8 } }

[[operations]]
include-path-regex = '^/api/v1/staff/\{id\}'
parameters = { "path.id" = { dictionary = "staff-ids", probability = 0.8 } }

[[operations]]
include-path-regex = '^/api/v1/opportunity-categories/\{id\}'
parameters = { "path.id" = { dictionary = "category-ids", probability = 0.8 } }

[[operations]]
include-path-regex = '^/api/v1/tokens/\{id\}'
parameters = { "path.id" = { dictionary = "token-ids", probability = 0.5 } }
TOML
    if [[ -n $lead_form ]]; then
        cat <<TOML

[dictionaries.lead-form-ids]
values = $(toml_list "$lead_form")

[dictionaries.form-keys]
values = $(toml_list "$form_key")

[[operations]]
include-path-regex = '^/api/v1/lead-forms/\{id\}'
parameters = { "path.id" = { dictionary = "lead-form-ids", probability = 0.8 } }

[[operations]]
include-path-regex = '^/api/v1/public/lead-forms/\{form_key\}'
parameters = { "path.form_key" = { dictionary = "form-keys", probability = 0.8 } }
TOML
    fi
} >"$config"

# Like a real client, give every request its own Idempotency-Key. Generated keys repeat ("0",
# "00", ...), and the server rightly answers a reused key with another body 422
# idempotency_key_reused, or replays the first response for the same body; both read as bugs
# to the checks. Keys the document calls invalid are left alone, so they are still tested.
hooks="$tmp/schemathesis_hooks.py"
cat >"$hooks" <<'PY'
import re
import uuid

import schemathesis

VALID_KEY = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?")


def removes_a_header(case):
    # Coverage cases that leave out a required header (Authorization included): editing their
    # headers makes Schemathesis rebuild them with the CLI's Authorization header put back.
    data = getattr(getattr(case.meta, "phase", None), "data", None)
    scenario = getattr(getattr(data, "scenario", None), "name", "")
    location = getattr(getattr(data, "parameter_location", None), "name", "")
    return scenario == "MISSING_PARAMETER" and location == "HEADER"


@schemathesis.hook
def before_call(context, case, kwargs):
    if removes_a_header(case):
        return
    for name, value in list((case.headers or {}).items()):
        if name.lower() == "idempotency-key" and isinstance(value, str) and VALID_KEY.fullmatch(value):
            case.headers[name] = str(uuid.uuid4())
PY
export SCHEMATHESIS_HOOKS="$hooks"

# --- Schemathesis: every operation, every phase ---
# `--checks all` = not_a_server_error, status_code_conformance, content_type_conformance,
# response_headers_conformance, response_schema_conformance, negative_data_rejection,
# positive_data_acceptance, missing_required_header, unsupported_method,
# allow_header_conformance, use_after_free, ensure_resource_availability, ignored_auth and
# object_level_authorization (a no-op without a second auth context).
# Schemathesis prints the Authorization value as [Filtered]; keep it that way in CI logs.
common=(
    "$api/openapi.json"
    --header "Authorization: Bearer $token"
    --checks "$checks"
    --phases examples,coverage,fuzzing,stateful
    --max-examples "$max_examples"
    --continue-on-failure
    --workers "$workers"
    --request-timeout 10
    --generation-database none
    --report junit,ndjson --report-dir "$report_dir"
)
[[ -n ${SCHEMATHESIS_SEED:-} ]] && common+=(--seed "$SCHEMATHESIS_SEED")

status=0
own_token_works() {
    [[ $(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$api/me") == 200 ]]
}
pass() { # pass NAME CONFIG SECONDS [schemathesis run options...]
    local name=$1 config=$2 budget=$3 started=$SECONDS rc=0
    shift 3
    log "pass '$name': schemathesis $SCHEMATHESIS_VERSION, ${budget}s budget, $max_examples examples per operation and cycle"
    # The budget ends the run gracefully; this limit is only for a run that hangs.
    mkdir -p "$report_dir"
    (cd "$report_dir" && exec timeout --signal=INT --kill-after=30 "$((2 * budget + 60))" \
        "$venv/bin/schemathesis" --no-color --config-file "$config" run "${common[@]}" --max-time "$budget" "$@") || rc=$?
    log "pass '$name' finished in $((SECONDS - started))s with exit status $rc"
    if [[ $rc -eq 124 || $rc -eq 137 ]]; then
        log "pass '$name' hung: killed after $((2 * budget + 60))s"
    fi
    ((rc == 0)) || status=1
    if ! kill -0 "$server_pid" 2>/dev/null; then
        log "the server died during pass '$name'"
        status=1
    elif ! own_token_works; then
        log "pass '$name' locked its own token out (GET /me is no longer 200): later results are 401s and prove nothing"
        status=1
    fi
}

# PATCH /staff/{id} gets a pass of its own. In the main pass the fuzzer learns the token owner's
# id (GET /me, GET /staff) and creates other owners (POST /staff), after which
# PATCH /staff/<own id> {"is_active": false} succeeds and every later request is a 401.
# Config parameters do not stop that (links and ids seen in responses win), so that operation
# runs alone, on the seeded member only. (Bad ids in paths are covered by the other /{id}s.)
patch_staff='PATCH /api/v1/staff/{id}'
patch_staff_config="$tmp/patch-staff.toml"
cat >"$patch_staff_config" <<TOML
[[operations]]
include-name = "$patch_staff"
parameters = { "path.id" = "$member" }
TOML
pass main "$config" "$max_time" "$@" --exclude-name "$patch_staff"
if kill -0 "$server_pid" 2>/dev/null && own_token_works; then
    pass "$patch_staff" "$patch_staff_config" 15 "$@" --include-name "$patch_staff"
fi

if ((status != 0)); then
    log "server warnings and errors (last 40; the full log is $report_dir/server.log):"
    grep -E '"level":"(WARN|ERROR)"' "$tmp/server.err" | tail -n 40 >&2 || true
fi
log "reports in $report_dir"
exit "$status"
