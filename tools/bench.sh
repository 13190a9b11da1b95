#!/usr/bin/env bash
# make bench: builds every function (and the hello-world floor) in release
# mode for arm64 and x86_64, runs the criterion micro-benchmarks, starts
# DynamoDB Local and the SES emulator on fresh loopback ports, seeds them, and
# has tools/bench/driver measure the x86_64 binaries. Writes BENCHMARKS.md.
# BENCH_COLD and BENCH_WARM change the counts (default 20 spawns and 500
# warm invocations per function); BENCH_ONLY=get-user,hello-world measures
# just those, prints the numbers and writes no report (and no criterion run).
set -euo pipefail
cd "$(dirname "$0")/.."

readonly WORK=target/bench COLD=${BENCH_COLD:-20} WARM=${BENCH_WARM:-500} ONLY=${BENCH_ONLY:-}
rm -rf "$WORK" && mkdir -p "$WORK"

# One package at a time, as sam build does: cargo then resolves features per
# function, so only request-password-reset links the SES client.
packages=(hello-world sdk-floor)
for dir in functions/*/; do packages+=("$(basename "$dir")"); done
[[ -n $ONLY ]] && IFS=, read -ra packages <<<"$ONLY"
rustup target add aarch64-unknown-linux-gnu
for package in "${packages[@]}"; do
  for arch in arm64 x86_64; do
    target=(--target x86_64-unknown-linux-gnu)
    [[ $arch == arm64 ]] && target=(--arm64)
    cargo lambda build --quiet --release -p "$package" "${target[@]}" \
      --output-format zip --lambda-dir "$WORK/zip-$arch"
  done
  cargo lambda build --quiet --release -p "$package" --target x86_64-unknown-linux-gnu \
    --lambda-dir "$WORK/bin"
done
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
start_scratch_stack "$WORK" bench user-api-bench

# Every spawn and every warm invocation after the first uses up a fixture.
target/debug/bench-seed $((COLD + 1 + WARM)) >"$WORK/fixtures.json"

target/release/lambda-bench --bins "$WORK/bin" --zips-arm64 "$WORK/zip-arm64" \
  --zips-x86_64 "$WORK/zip-x86_64" --events events --fixtures "$WORK/fixtures.json" \
  --criterion target/criterion --template template.yaml --logs "$WORK/logs" \
  --cold "$COLD" --warm "$WARM" --only "$ONLY" --out BENCHMARKS.md
