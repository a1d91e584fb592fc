#!/bin/bash
# Times a restart of node 1 on DIR (e.g. one built by `storage_fill DIR 10000000 31`) to its
# first /health, and prints the bytes the process wrote during the start (/proc/PID/io at that
# moment), its RSS and its CPU time. Storage is opened and recovered before the node binds its
# ports, so /health marks the end of recovery; /ready then only waits for a quorum of peers.
#
#   bash benches/storage/recover.sh DIR [SYNOD_BINARY]
#
# Run it on a quiet machine (the load average is printed before and after). For a cold page
# cache, run `sync; echo 3 > /proc/sys/vm/drop_caches` first (root).
set -euo pipefail
DIR=$1
BIN=${2:-target/release/synod}
LOG=$(mktemp)
uptime
"$BIN" serve --id 1 --peers 1=127.0.0.1:17001,2=127.0.0.1:17002,3=127.0.0.1:17003 \
  --http 127.0.0.1:18081 --data "$DIR" > "$LOG" 2>&1 &
PID=$!
START=$(date +%s.%N)
until curl -sf http://127.0.0.1:18081/health > /dev/null; do
  kill -0 $PID 2>/dev/null || { echo "serve exited:"; cat "$LOG"; exit 1; }
  sleep 0.05
done
END=$(date +%s.%N)
echo "health after $(echo "$END - $START" | bc) s"
grep -E "write_bytes|read_bytes" /proc/$PID/io
grep VmRSS /proc/$PID/status
awk '{print "cpu user+sys s: " ($14+$15)/100}' /proc/$PID/stat
kill $PID
wait $PID || true
rm -f "$LOG"
uptime
