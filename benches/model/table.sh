#!/usr/bin/env bash
# The model-checking benchmark behind docs/model.md's performance table: builds synod-model in
# release and checks each configuration of the table, printing one Markdown row per run
# (result, unique and total states, states/s, peak memory, wall time).
#
#   bash benches/model/table.sh            # every row (up to about an hour: the 3-round and the
#                                          # 5-node retry rows run for up to 30 and 20 minutes)
#   bash benches/model/table.sh --quick    # the rows that finish within seconds (about 1 minute)
#
# Peak memory needs GNU time (/usr/bin/time, Debian package `time`); without it the column is "–".
# Run it on a quiet machine: the numbers are only as good as the CPU they get.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p synod-model
bin="${CARGO_TARGET_DIR:-target}/release/synod-model"
quick=${1:-}

row() {
  local name=$1
  shift
  local out err
  out=$(mktemp)
  err=$(mktemp)
  if [[ -x /usr/bin/time ]]; then
    /usr/bin/time -v "$bin" check "$@" --progress 60 >"$out" 2>"$err" || true
  else
    "$bin" check "$@" --progress 60 >"$out" 2>"$err" || true
  fi
  local result done_line rss wall
  result=$(sed -n 's/^result *\([A-Z]*\).*/\1/p' "$out")
  done_line=$(grep -m1 '^done' "$out" || true)
  field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$done_line"; }
  rss=$(awk '/Maximum resident/ {printf "%d MB", $NF / 1024}' "$err")
  wall=$(field elapsed)
  printf '| %s | `%s` | %s | %s | %s | %s | %s | %s |\n' \
    "$name" "$*" "${result:-?}" "$(field unique)" "$(field states)" "$(field 'states\/s')" \
    "${rss:-–}" "$wall"
  rm -f "$out" "$err"
}

echo '| configuration | command (`synod-model check …`) | result | unique states | total states | states/s | peak RSS | time |'
echo '|---|---|---|---|---|---|---|---|'
row "3 nodes, 2 proposers, 1 round, duplicating" --threads 2
row "… + 1 crash (+ lossy, subsumed)" --crashes 1 --lossy --threads 2
row "… non-duplicating lossy network, 1 crash" --network nonduplicating --lossy --crashes 1 --strategy dfs --threads 2
row "register, 2 clients put:a / cas:-:b" --mode register --threads 2
row "4 nodes, 2 proposers, 1 round" --nodes 4 --strategy dfs --threads 2
row "… with symmetry" --nodes 4 --strategy dfs --symmetry --threads 2
row "3 nodes, 2 proposers, 2 rounds" --rounds 2 --strategy dfs --threads 2
[[ $quick == --quick ]] && exit 0
row "… breadth-first" --rounds 2 --threads 2
row "3 nodes, 2 proposers, 3 rounds" --rounds 3 --strategy dfs --threads 2 --timeout 1800
row "5 nodes, 2 proposers, 1 round" --nodes 5 --strategy dfs --threads 2
row "… without quorum transitions" --nodes 5 --strategy dfs --threads 2 --no-quorum-transitions
row "5 nodes, 2 proposers, one retry each (symmetry)" --nodes 5 --rounds 2 --strategy dfs --symmetry --no-compare --threads 2 --timeout 1200
row "5 nodes, 2 proposers, 1 crash" --nodes 5 --crashes 1 --strategy dfs --threads 2 --timeout 600
row "5 nodes, register, 2 clients put:a / cas:-:b" --nodes 5 --mode register --strategy dfs --threads 2 --timeout 600
