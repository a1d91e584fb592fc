#!/usr/bin/env bash
# Synod vs etcd, same machine, same run: a 3-node etcd and a 3-node Synod cluster on loopback,
# both with their data on the same disk (under $BENCH_ROOT, default /var/tmp) and fsync on, both
# driven by `synod-harness bench` (etcd through its v3 HTTP/JSON gateway, Synod through its HTTP API),
# alternating system by system for each workload, then one table with both and the ratios.
#
# Installs Debian's etcd-server with apt-get when etcd is missing (needs root). Needs jq.
#
# Knobs (environment):
#   CLIENTS="1 16 64"     closed-loop clients per run
#   MIXES="0.2 0 1"       read ratios (0.2 = 80 % writes; 0 = writes only; 1 = reads only)
#   DURATION=10 WARMUP=2  seconds per run
#   ROUNDS=1              repetitions of the whole matrix (alternation repeats)
#   KEYS=1000 VALUE_SIZE=100
#   ROUTE=key             `synod-harness bench --route` for both systems: key k goes to endpoint k mod 3
#                         (no dueling Synod proposers on one key; etcd forwards to its leader anyway);
#                         `client` gives each client one endpoint whatever the key; `home` sends
#                         Synod's requests straight to each key's home (etcd has no home: it runs
#                         with `client`)
#   MAX_ERROR_RATE=1      `bench --max-error-rate`: 1 records every cell, errors and all (the table
#                         reports them); lower it to stop at a cell with more errors than that
#   CONTENTION=1          also run the single-key contention row: 16 clients, 1 key, requests spread
#                         over all nodes (--route client), 80 % writes
#   OUT=bench-results     directory for the JSON reports
#   SYNOD_BIN=path        use this synod binary (the cluster) instead of building one
#   HARNESS_BIN=path      use this synod-harness binary (the load generator) instead of building one
set -euo pipefail

CLIENTS=${CLIENTS:-"1 16 64"}
MIXES=${MIXES:-"0.2 0 1"}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
ROUNDS=${ROUNDS:-1}
KEYS=${KEYS:-1000}
VALUE_SIZE=${VALUE_SIZE:-100}
ROUTE=${ROUTE:-key}
CONTENTION=${CONTENTION:-1}
MAX_ERROR_RATE=${MAX_ERROR_RATE:-1}
OUT=${OUT:-bench-results}
BENCH_ROOT=${BENCH_ROOT:-/var/tmp}

here=$(cd "$(dirname "$0")/../.." && pwd)
command -v jq >/dev/null || { echo "etcd.sh needs jq" >&2; exit 1; }
if ! command -v etcd >/dev/null; then
  echo "installing Debian's etcd-server" >&2
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y etcd-server
fi
echo "etcd: $(etcd --version | head -1)" >&2

if [ -n "${SYNOD_BIN:-}" ]; then
  synod=$SYNOD_BIN
else
  cargo build --release -p synod-server --bin synod --manifest-path "$here/Cargo.toml" >&2
  synod="${CARGO_TARGET_DIR:-$here/target}/release/synod"
fi
if [ -n "${HARNESS_BIN:-}" ]; then
  harness=$HARNESS_BIN
else
  cargo build --release -p synod-harness --bin synod-harness --manifest-path "$here/Cargo.toml" >&2
  harness="${CARGO_TARGET_DIR:-$here/target}/release/synod-harness"
fi

mkdir -p "$OUT"
data=$(mktemp -d "$BENCH_ROOT/synod-vs-etcd.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$data"
}
trap cleanup EXIT

# etcd: members e1..e3, client ports 12379/12389/12399, peer ports 12380/12390/12400.
cluster=""
for i in 1 2 3; do
  cluster+="${cluster:+,}e$i=http://127.0.0.1:$((12370 + 10 * i))"
done
etcd_endpoints=""
for i in 1 2 3; do
  client="http://127.0.0.1:$((12369 + 10 * i))"
  peer="http://127.0.0.1:$((12370 + 10 * i))"
  etcd --name "e$i" --data-dir "$data/etcd-$i" \
    --listen-client-urls "$client" --advertise-client-urls "$client" \
    --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
    --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token synod-bench \
    --logger zap --log-level warn >"$data/etcd-$i.log" 2>&1 &
  pids+=($!)
  etcd_endpoints+="${etcd_endpoints:+,}$client"
done

# Synod: `synod cluster` with its data in the same root.
"$synod" cluster --nodes 3 --base-port 17001 --http-base-port 18081 --data-root "$data/synod" \
  >"$data/synod.log" 2>&1 &
pids+=($!)
synod_endpoints="http://127.0.0.1:18081,http://127.0.0.1:18082,http://127.0.0.1:18083"

wait_healthy() { # url
  for _ in $(seq 1 200); do
    curl -fsS "$1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "not healthy: $1" >&2
  exit 1
}
for i in 1 2 3; do
  wait_healthy "http://127.0.0.1:$((12369 + 10 * i))/health"
  wait_healthy "http://127.0.0.1:$((18080 + i))/health"
done
echo "both clusters are up; data in $data" >&2

run() { # system endpoints clients read_ratio round [keys route name]
  local keys=${6:-$KEYS} route=${7:-$ROUTE} name=${8:-}
  if [ "$1" = etcd ] && [ "$route" = home ]; then route=client; fi
  local file="$OUT/$1${name:+-$name}-c$3-r$4-$5.json"
  "$harness" bench --target "$1" --endpoints "$2" --clients "$3" --read-ratio "$4" \
    --keys "$keys" --value-size "$VALUE_SIZE" --duration "$DURATION" --warmup "$WARMUP" --route "$route" \
    --max-error-rate "$MAX_ERROR_RATE" --json "$file" >/dev/null
}

for round in $(seq 1 "$ROUNDS"); do
  for mix in $MIXES; do
    for c in $CLIENTS; do
      run etcd "$etcd_endpoints" "$c" "$mix" "$round"
      run synod "$synod_endpoints" "$c" "$mix" "$round"
    done
  done
  if [ "$CONTENTION" = 1 ]; then
    run etcd "$etcd_endpoints" 16 0.2 "$round" 1 client onekey
    run synod "$synod_endpoints" 16 0.2 "$round" 1 client onekey
  fi
done

# One table: the mean over rounds of each system's throughput and p50/p99, and the ratios.
printf '\n%-8s %7s | %10s %8s %8s | %10s %8s %8s | %8s %9s %8s\n' \
  reads clients "etcd op/s" "p50 us" "p99 us" "synod op/s" "p50 us" "p99 us" "thr x" "p99 ratio" "fsync/op"
stats() { # system file-prefix -> "ops p50 p99 errors fsyncs-per-op"
  jq -s '[ (map(.throughput_ops_per_s) | add / length),
           (map(.latency.p50_us) | add / length),
           (map(.latency.p99_us) | add / length),
           (map(.errors) | add),
           (map(if .server and .throughput_ops_per_s > 0
                then .server.fsyncs_per_s / .throughput_ops_per_s else 0 end) | add / length)
         ] | map(tostring) | join(" ")' -r "$OUT/$1"*.json
}
row() { # label clients file-suffix
  read -r e_ops e_p50 e_p99 e_err _ <<<"$(stats "etcd$3")"
  read -r s_ops s_p50 s_p99 s_err s_fpo <<<"$(stats "synod$3")"
  awk -v m="$1" -v c="$2" -v eo="$e_ops" -v e5="$e_p50" -v e9="$e_p99" \
    -v so="$s_ops" -v s5="$s_p50" -v s9="$s_p99" -v ee="$e_err" -v se="$s_err" -v fpo="$s_fpo" 'BEGIN {
    printf "%-8s %7d | %10.0f %8.0f %8.0f | %10.0f %8.0f %8.0f | %8.2f %9.2f %8.2f   (errors: etcd %d, synod %d)\n",
      m, c, eo, e5, e9, so, s5, s9, (eo > 0 ? so / eo : 0), (e9 > 0 ? s9 / e9 : 0), fpo, ee, se }'
}
for mix in $MIXES; do
  for c in $CLIENTS; do
    row "$mix" "$c" "-c$c-r$mix-"
  done
done
if [ "$CONTENTION" = 1 ]; then
  row "1 key" 16 "-onekey-c16-r0.2-"
fi
echo "(thr x = synod throughput / etcd throughput; p99 ratio = synod p99 / etcd p99; reads = read ratio;"
echo " fsync/op = Synod's node fsyncs per second over the three nodes / its operations per second;"
echo " \"1 key\" = 16 clients on one key, 80 % writes, requests spread over all nodes)"

# Every run in detail: all percentiles, and Synod's fsyncs/s and mean group-commit batch.
printf '\n%-26s %9s %8s %8s %8s %8s %8s %14s\n' run "ops/s" p50 p90 p99 p99.9 max "fsyncs/s/batch"
for f in "$OUT"/*.json; do
  jq -r --arg f "$(basename "$f" .json)" '[$f, (.throughput_ops_per_s | floor),
      .latency.p50_us, .latency.p90_us, .latency.p99_us, .latency.p999_us, .latency.max_us,
      (if .server then "\(.server.fsyncs_per_s | floor)/\(.server.mean_batch * 100 | floor / 100)"
       else "-" end)] | @tsv' "$f"
done | sort | awk -F'\t' '{ printf "%-26s %9s %8s %8s %8s %8s %8s %14s\n", $1, $2, $3, $4, $5, $6, $7, $8 }'
echo "(latencies in µs)"
