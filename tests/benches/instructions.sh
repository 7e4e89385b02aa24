#!/usr/bin/env bash
# The dispatcher's fixed cost per request, in instructions counted by callgrind (repeatable,
# whatever else the machine does): each mode of tests/benches/instructions.rs makes N requests;
# "setup" makes none and is subtracted. With ANNOTATE=1, also prints the functions of the
# dispatch mode that cost the most instructions, inclusive. Needs valgrind.
# Usage: tests/benches/instructions.sh [N]    (N = 20000)
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-20000}
target=${CARGO_TARGET_DIR:-target}
cargo bench --locked --quiet -p tests --bench instructions --no-run 2>/dev/null
bin=$(ls -t "$target"/release/deps/instructions-* | grep -v '\.d$' | head -1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
total() { # MODE REQUESTS: instructions of the whole run
  valgrind --tool=callgrind --callgrind-out-file="$work/$1.out" "$bin" "$1" "$2" >/dev/null 2>"$work/$1.log"
  grep -m1 '^summary:' "$work/$1.out" | awk '{print $2}'
}
setup=$(total setup "$n")
per_request() { # MODE: prints and sets `each`, its instructions per request, set-up subtracted
  each=$(( ($(total "$1" "$n") - setup) / n ))
  printf '%-24s %7d instructions per request\n' "$1" "$each"
}
per_request floor; floor=$each
per_request dispatch-without-token; unsigned=$each
per_request dispatch; signed=$each
printf 'the dispatcher over the floor: %d instructions with a token, %d without\n' $((signed - floor)) $((unsigned - floor))
if [[ -n "${ANNOTATE:-}" ]]; then
  callgrind_annotate --inclusive=yes "$work/dispatch.out" 2>/dev/null | sed -n '1,60p'
fi
