#!/bin/bash
# TLS beside plain in one run: ROUNDS rounds, each alternating a plain and a TLS 3-node cluster
# (`synod-harness bench --cluster 3 [--tls]`) at 64 and then 1 client, so that load drifts hit
# both alike. Report the median TLS/plain ratio over the rounds (docs/benchmarks.md).
#
#   cargo build --release -p synod-harness && bash benches/compare/tls.sh
#
# Env: ROUNDS (3), DURATION (8 s measured), WARMUP (2 s), BIN (target/release/synod-harness).
set -euo pipefail
BIN=${BIN:-target/release/synod-harness}
for round in $(seq "${ROUNDS:-3}"); do
  for clients in 64 1; do
    for tls in plain tls; do
      flag=()
      [ "$tls" = tls ] && flag=(--tls)
      echo "=== round=$round clients=$clients $tls load=$(cut -d' ' -f1 /proc/loadavg)"
      "$BIN" bench --cluster 3 "${flag[@]}" --clients "$clients" \
        --duration "${DURATION:-8}" --warmup "${WARMUP:-2}" \
        --base-port 27001 --http-base-port 28081 2>/dev/null |
        grep -E "^throughput|^  all"
    done
  done
done
