#!/usr/bin/env bash
# Load test: the example server under sustained mixed traffic (80% valid, 20% invalid, every
# command in turn) from example-send, a second process, over loopback.
# Checks: no 5xx or transport error, every valid request answered 200 and handled exactly once
# (the server logs one line per typed event: the count must equal the valid requests), every
# invalid one refused, and memory flat (resident size after warm-up vs at the end).
# Usage: tests/load/run.sh [SECONDS] [RATE]      (defaults: 20 s at 1000 requests/s)
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-20}
rate=${2:-1000}
token=load-test-token
app_id=1400000000

cargo build --release --locked --quiet -p example-server -p example-send
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

RUST_LOG=info ./target/release/example-server --listen 127.0.0.1:0 --sdkappid "$app_id" --token "$token" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do grep -q "listening on" "$work/server.log" && break; sleep 0.1; done
url=$(grep -o "http://[0-9.:]*/callback" "$work/server.log")

rss() { awk '/VmRSS/ { print $2 }' "/proc/$server/status"; }
(
  while kill -0 "$server" 2>/dev/null; do rss >>"$work/rss.txt" 2>/dev/null || true; sleep 1; done
) &
sampler=$!

./target/release/example-send --url "$url" --command all --token "$token" --sdkappid "$app_id" \
  --rate "$rate" --duration "$duration" --invalid 20 | tee "$work/send.txt"
status=${PIPESTATUS[0]}
sleep 0.5
kill "$sampler" 2>/dev/null || true

valid_ok=$(grep -o 'valid_ok=[0-9]*' "$work/send.txt" | cut -d= -f2)
handled=$(grep -c " INFO event: " "$work/server.log" || true)
samples=$(wc -l <"$work/rss.txt")
warm=$(sed -n "$(( samples / 4 + 1 ))p" "$work/rss.txt")
peak=$(sort -n "$work/rss.txt" | tail -1)
last=$(tail -1 "$work/rss.txt")
echo "handled events logged by the server: $handled (valid requests answered 200: $valid_ok)"
echo "server resident memory: ${warm} KiB after warm-up, ${last} KiB at the end, peak ${peak} KiB"

failed=0
[ "$status" -eq 0 ] || { echo "FAILED: the sender saw unexpected replies"; failed=1; }
[ "$handled" -eq "$valid_ok" ] || { echo "FAILED: $handled events handled for $valid_ok valid requests"; failed=1; }
# Flat: no more than 16 MiB of growth between warm-up and the end.
[ $(( last - warm )) -le 16384 ] || { echo "FAILED: memory grew by $(( last - warm )) KiB"; failed=1; }
[ "$failed" -eq 0 ] && echo "load test: 1 passed, 0 failed" || echo "load test: 0 passed, 1 failed"
exit "$failed"
