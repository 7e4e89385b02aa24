#!/usr/bin/env bash
# Relay throughput into Redis against example-server handling the same traffic in memory, and two
# relays on one Redis: distinct signed after-callbacks, acknowledged events/s and latency of the OK,
# at full load and paced at RATE/s; then HTTP delivery from the stream to a local service.
# Needs redis-server. Usage: relay/bench.sh [REQUESTS] [CONCURRENCY] [RATE]   (20000, 32, 3000)
set -euo pipefail
cd "$(dirname "$0")/.."
export REQUESTS=${1:-20000} CONCURRENCY=${2:-32}
rate=${3:-3000}
token=test-token   # the token tests::signed_query signs with
app_id=1400000000

cargo build --release --locked --quiet -p relay -p example-server
cargo bench --locked --quiet -p relay --bench throughput --no-run
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly yes --appendfsync everysec --dir "$work" >/dev/null &
pids+=($!)
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done

start() { # NAME COMMAND...: starts a receiver, prints its URL
  local name=$1; shift
  RUST_LOG=warn,relay=info,example_server=info "$@" --listen 127.0.0.1:0 --sdkappid "$app_id" --token "$token" \
    >"$work/$name.out" 2>"$work/$name.log" &
  pids+=($!)
  for _ in $(seq 100); do grep -q "listening on" "$work/$name.log" "$work/$name.out" 2>/dev/null && break; sleep 0.1; done
  grep -ho "http://[0-9.:]*/callback" "$work/$name.log" "$work/$name.out" | head -1
}
server=$(start server ./target/release/example-server)
relay1=$(start relay1 ./target/release/relay --forward "redis://127.0.0.1:$port")
relay2=$(start relay2 ./target/release/relay --forward "redis://127.0.0.1:$port")

sink=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
relay3=$(start relay3 ./target/release/relay --forward "redis://127.0.0.1:$port" --stream bench-deliver \
  --deliver "http://127.0.0.1:$sink/" --deliver-secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw --deliver-backoff-ms 10)

run() { echo "== $1"; TARGETS=$2 cargo bench --locked --quiet -p relay --bench throughput 2>/dev/null; }
run "example-server, in memory" "$server"
run "relay -> Redis stream, one replica" "$relay1"
run "relay -> Redis stream, two replicas" "$relay1,$relay2"
RATE=$rate run "example-server, in memory, at $rate/s" "$server"
RATE=$rate run "relay -> Redis stream, one replica, at $rate/s" "$relay1"
SINK_PORT=$sink run "relay -> Redis stream -> HTTP delivery to a local service (signed), one replica" "$relay3"
echo "stream length: $(redis-cli -p "$port" xlen tencent-chat-callbacks)"
