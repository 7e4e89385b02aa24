#!/usr/bin/env bash
# What the typed catalogue adds to a dependent crate's clean (debug) build, over serde +
# serde_json alone, and what a crate generated from only the five seed callbacks would take: the
# most that per-namespace cargo features could save. Each build is clean, with its own target
# directory, on the jobs cargo picks for this machine. Each line gives the CPU time (user + sys
# of cargo and everything it runs), which other load on the machine inflates less, and the wall
# time.
# Usage: tests/benches/build-time.sh [NAME...]    (takes a few minutes; NAMEs pick builds)
#   TIMINGS=DIR  also builds with `cargo build --timings` and copies each report to DIR/NAME.html
#   PER_CRATE=1  also prints, after each build, the CPU time of every package's `rustc` runs (each
#                timed through a RUSTC_WRAPPER; a build script is counted with its package)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
wanted=" $* "

want() { [[ "$wanted" == "  " || "$wanted" == *" $1 "* ]]; }

if want five-callbacks-no-default-features; then
  # A copy of the runtime crate generated from the five seed schemas only.
  mkdir -p "$work/five/schema"
  git -C "$root" archive HEAD | tar -x -C "$work/five"
  ( cd "$work/five/schema" && ls | grep -v -E '^(common|Group\.CallbackAfter(CreateGroup|ChangeGroupOwner|GroupInfoChanged|GroupAttrChanged)|OfficialAccount\.CallbackAfterOfficialAccountInfoChanged)\.json$|^dist$|^envelope$|CHANGELOG' | xargs rm -f )
  (cd "$root" && cargo run --quiet --locked -p tencent-chat-callbacks-codegen -- --root "$work/five" >/dev/null 2>&1)
fi

# The RUSTC_WRAPPER of PER_CRATE: runs rustc and appends "package user sys" to $RUSTC_TIMES.
cat >"$work/time-rustc" <<'SH'
#!/usr/bin/env bash
exec /usr/bin/time -a -o "$RUSTC_TIMES" -f "${CARGO_PKG_NAME:-cargo} %U %S" "$@"
SH
chmod +x "$work/time-rustc"

dependent() { # name, dependency line
  want "$1" || return 0
  mkdir -p "$work/$1/src"
  cat >"$work/$1/Cargo.toml" <<TOML
[package]
name = "$1"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
$2

[workspace]
TOML
  echo 'fn main() {}' >"$work/$1/src/main.rs"
  cp "$root/Cargo.lock" "$work/$1/Cargo.lock"
  (cd "$work/$1" && cargo fetch --quiet 2>/dev/null || true)
  local timings=() times wrapper=()
  [[ -n "${TIMINGS:-}" ]] && timings=(--timings)
  [[ -n "${PER_CRATE:-}" ]] && wrapper=(env RUSTC_WRAPPER="$work/time-rustc" RUSTC_TIMES="$work/$1.rustc-times")
  times=$(cd "$work/$1" && "${wrapper[@]}" /usr/bin/time -f '%U %S %e' cargo build --quiet --offline "${timings[@]}" 2>&1 >/dev/null | tail -n 1)
  read -r user sys wall <<<"$times"
  printf '%-44s cpu %6.1f s   wall %6.1f s\n' "$1" "$(echo "$user + $sys" | bc)" "$wall"
  if [[ -n "${PER_CRATE:-}" ]]; then
    awk '$2 ~ /^[0-9.]+$/ {cpu[$1] += $2 + $3; total += $2 + $3} END {for (p in cpu) printf "    %-36s %5.2f s\n", p, cpu[p]; printf "    %-36s %5.2f s\n", "(all rustc runs)", total}' \
      "$work/$1.rustc-times" | sort -k2 -n -r
  fi
  if [[ -n "${TIMINGS:-}" ]]; then
    mkdir -p "$TIMINGS"
    cp "$work/$1/target/cargo-timings/cargo-timing.html" "$TIMINGS/$1.html"
  fi
}

echo "clean debug builds of a binary depending on:"
dependent serde-and-serde-json 'serde = { version = "1", features = ["derive"] }
serde_json = "1"'
dependent serde-serde-json-and-tokio 'serde = { version = "1", features = ["derive"] }
serde_json = "1"
tokio = { version = "1", features = ["rt", "sync", "time"] }'
dependent full-catalogue-no-default-features "tencent-chat-callbacks = { path = \"$root/callbacks\", default-features = false }"
dependent five-callbacks-no-default-features "tencent-chat-callbacks = { path = \"$work/five/callbacks\", default-features = false }"
dependent full-catalogue-default-features "tencent-chat-callbacks = { path = \"$root/callbacks\" }"
