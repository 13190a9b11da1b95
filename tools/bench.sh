#!/usr/bin/env bash
# make bench: builds every function (and the hello-world floor) in release
# mode for arm64 and x86_64, runs the criterion micro-benchmarks, starts
# DynamoDB Local and the SES emulator on fresh loopback ports, seeds them, and
# has tools/bench/driver measure the x86_64 binaries. Writes BENCHMARKS.md.
# BENCH_COLD and BENCH_WARM change the counts (default 20 spawns and 500
# warm invocations per function), BENCH_TIMING the refused logins of
# registered and of unknown addresses compared (default 1000 each); BENCH_ONLY=get-user,hello-world measures
# just those, prints the numbers and writes no report (and no criterion run);
# BENCH_ARM64=all zips every function for arm64 even then and prints the
# sizes (CI: after make package that only zips what ships).
set -euo pipefail
cd "$(dirname "$0")/.."

readonly WORK=target/bench COLD=${BENCH_COLD:-20} WARM=${BENCH_WARM:-500} ONLY=${BENCH_ONLY:-}
readonly TIMING=${BENCH_TIMING:-1000}
rm -rf "$WORK" && mkdir -p "$WORK"

# Every function in one cargo run per architecture and output (the arm64 run
# packages what make package built; the second x86_64 run only packages what
# the first built); each floor in a run of its own, so its dependencies'
# features stay its own.
every=()
for dir in functions/*/; do every+=("$(basename "$dir")"); done
functions=("${every[@]}")
floors=(hello-world sdk-floor)
if [[ -n $ONLY ]]; then
  IFS=, read -ra only <<<"$ONLY"
  functions=() floors=()
  for package in "${only[@]}"; do
    if [[ -d functions/$package ]]; then functions+=("$package"); else floors+=("$package"); fi
  done
fi
rustup target add aarch64-unknown-linux-gnu
# build ARCH PACKAGES WHAT [cargo lambda options]: PACKAGES names the array
# of functions; WHAT is `functions` or `all` (the floors too: they are
# baselines for what is measured, so x86_64 only).
build() {
  local arch=$1 what=$3 target=(--target x86_64-unknown-linux-gnu)
  local -n packages=$2
  shift 3
  [[ $arch == arm64 ]] && target=(--arm64)
  local selection=() package
  for package in "${packages[@]}"; do selection+=(-p "$package"); done
  if ((${#selection[@]})); then
    cargo lambda build --quiet --release "${target[@]}" "${selection[@]}" "$@"
  fi
  [[ $what == all ]] || return 0
  for package in "${floors[@]}"; do
    cargo lambda build --quiet --release "${target[@]}" -p "$package" "$@"
  done
}
arm64=("${functions[@]}")
[[ ${BENCH_ARM64:-} == all ]] && arm64=("${every[@]}")
build arm64 arm64 functions --output-format zip --lambda-dir "$WORK/zip-arm64"
if [[ ${BENCH_ARM64:-} == all ]]; then
  echo "arm64 zip sizes (what make package built):"
  for zip in "$WORK"/zip-arm64/*/bootstrap.zip; do
    printf '  %-28s %6.2f MB\n' "$(basename "$(dirname "$zip")")" "$(($(stat -c %s "$zip") / 10000))e-2"
  done
fi
build x86_64 functions all --output-format zip --lambda-dir "$WORK/zip-x86_64"
build x86_64 functions all --lambda-dir "$WORK/bin"
# The driver (std only) and the seeding tool (debug, like users-admin).
cargo build --quiet --release -p lambda-bench
cargo build --quiet --workspace --bins

# Micro-benchmarks first, on a machine not yet busy with the emulators.
if [[ -z $ONLY ]]; then
  rm -rf target/criterion
  cargo bench --quiet -p http-api --bench hot_paths 2>&1 | tee "$WORK/criterion.log"
fi

# shellcheck source=tools/local-stack.sh
source tools/local-stack.sh
trap stop_local_stack EXIT INT TERM
start_scratch_stack "$WORK" bench https://bench.user-api.test 1000000

# Every spawn and every warm invocation after the first uses up a fixture,
# and so does every refused login of the timing comparison (plus one each
# to warm up).
target/debug/bench-seed $((COLD + 1 + WARM)) $((TIMING + 1)) >"$WORK/fixtures.json"

target/release/lambda-bench --bins "$WORK/bin" --zips-arm64 "$WORK/zip-arm64" \
  --zips-x86_64 "$WORK/zip-x86_64" --events events --fixtures "$WORK/fixtures.json" \
  --criterion target/criterion --template template.yaml --logs "$WORK/logs" \
  --cold "$COLD" --warm "$WARM" --timing "$TIMING" --only "$ONLY" --out BENCHMARKS.md
