#!/usr/bin/env bash
# The full benchmark for one backend and several sizes: seed each size once (kept in
# bench-data/), serve it with the release binary, run every scenario with its floors, stop.
#
#   scripts/benchmark.sh sqlite 10000 100000 1000000
#   scripts/benchmark.sh postgres 10000 100000          # needs the local PostgreSQL
#
# Environment: SECONDS_PER_SCENARIO (10), CONNECTIONS (32). Results: bench-data/run-BACKEND-N.json
# and the markdown tables on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
backend=$1
shift
seconds=${SECONDS_PER_SCENARIO:-10}
connections=${CONNECTIONS:-32}
bench=target/release/opportunities-bench
server=target/release/opportunities
[[ -x $bench && -x $server ]] || cargo build --release -p opportunities -p opportunities-bench
mkdir -p bench-data

for size in "$@"; do
  case $backend in
    sqlite) url="sqlite://$PWD/bench-data/sqlite-$size.db" ;;
    postgres) url="postgres://postgres@127.0.0.1:5432/opp_bench_$size" ;;
    *) echo "backend is sqlite or postgres" >&2; exit 2 ;;
  esac
  manifest=bench-data/$backend-$size.json
  if [[ ! -f $manifest ]]; then
    [[ $backend == postgres ]] && createdb -h 127.0.0.1 -U postgres "opp_bench_$size"
    started=$SECONDS
    "$bench" seed --database "$url" --opportunities "$size" --manifest "$manifest" >&2
    echo "seeded $size opportunities on $backend in $((SECONDS - started)) s" >&2
  fi
  port=$((18600 + RANDOM % 1000))
  RUST_LOG=warn "$server" serve --database "$url" --listen "127.0.0.1:$port" >/dev/null &
  pid=$!
  trap 'kill $pid 2>/dev/null || true' EXIT
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
  echo "## $backend, $size opportunities" 
  "$bench" run --url "http://127.0.0.1:$port" --manifest "$manifest" --database "$url" \
    --connections "$connections" --seconds "$seconds" --json "bench-data/run-$backend-$size.json"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
