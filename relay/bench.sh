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

start() { # NAME COMMAND...: starts a receiver, records its pid and sets `url` to its callback URL
  local name=$1; shift
  RUST_LOG=warn,relay=info,example_server=info "$@" --listen 127.0.0.1:0 --sdkappid "$app_id" --token "$token" \
    >"$work/$name.out" 2>"$work/$name.log" &
  pids+=($!)
  for _ in $(seq 100); do grep -q "listening on" "$work/$name.log" "$work/$name.out" 2>/dev/null && break; sleep 0.1; done
  url=$(grep -ho "http://[0-9.:]*/callback" "$work/$name.log" "$work/$name.out" | head -1)
}
start server ./target/release/example-server; server=$url
start relay1 ./target/release/relay --forward "redis://127.0.0.1:$port"; relay1=$url
start relay2 ./target/release/relay --forward "redis://127.0.0.1:$port"; relay2=$url

sink=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start relay3 ./target/release/relay --forward "redis://127.0.0.1:$port" --stream bench-deliver \
  --deliver "http://127.0.0.1:$sink/" --deliver-secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw --deliver-backoff-ms 10
relay3=$url

# Where the time goes: CPU (user + system) each process spent per event during a run, from
# /proc/PID/stat, and how busy the whole machine was. On two cores the client, the receiver and
# Redis share them, so a receiver's events/s is bounded by the sum of the three.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
busy_ticks() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8; exit}' /proc/stat; }
tick_us=$((1000000 / $(getconf CLK_TCK)))
run() { # TITLE TARGETS: runs the client, then prints CPU per event of the server, relays and Redis
  echo "== $1"
  local names=(server relay1 relay2 relay3 redis) procs=("${pids[1]}" "${pids[2]}" "${pids[3]}" "${pids[4]}" "${pids[0]}")
  local before=() i busy_before
  for i in "${!procs[@]}"; do before[i]=$(cpu_ticks "${procs[i]}"); done
  busy_before=$(busy_ticks)
  TARGETS=$2 cargo bench --locked --quiet -p relay --bench throughput 2>/dev/null
  local line="   CPU per event:"
  for i in "${!procs[@]}"; do
    local used=$(( ($(cpu_ticks "${procs[i]}") - before[i]) * tick_us ))
    [ "$used" -gt 0 ] && line+=" ${names[i]} $((used / REQUESTS)) µs,"
  done
  echo "$line all processes on the machine $(( ($(busy_ticks) - busy_before) * tick_us / REQUESTS )) µs"
}
run "example-server, in memory" "$server"
run "relay -> Redis stream, one replica" "$relay1"
run "relay -> Redis stream, two replicas" "$relay1,$relay2"
RATE=$rate run "example-server, in memory, at $rate/s" "$server"
RATE=$rate run "relay -> Redis stream, one replica, at $rate/s" "$relay1"
SINK_PORT=$sink run "relay -> Redis stream -> HTTP delivery to a local service (signed), one replica" "$relay3"
echo "stream length: $(redis-cli -p "$port" xlen tencent-chat-callbacks)"
