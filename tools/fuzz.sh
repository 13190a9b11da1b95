#!/usr/bin/env bash
# Schema-driven fuzzing: schemathesis, with every check, sends generated
# requests for each operation of openapi.yaml to the real function binaries
# (behind the local gateway and cargo lambda watch) backed by DynamoDB Local
# and the SES emulator, all on
# fresh loopback ports, and fails on any server error or any response that
# breaks the documented schemas. Bounded in examples and time.
# Run by `make test` after the function binaries are built.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly WORK=target/fuzz
rm -rf "$WORK" && mkdir -p "$WORK"
# shellcheck source=tools/local-stack.sh
source tools/local-stack.sh
trap stop_local_stack EXIT INT TERM
start_scratch_stack "$WORK" fuzz https://fuzz.user-api.test 1000000
API_PORT=$(free_port)
readonly API_PORT

start_scratch_functions "$WORK" "$API_PORT" warn

export FUZZ_BASE_URL="http://127.0.0.1:$API_PORT"
# Every check but unsupported_method: undeclared methods never reach a
# function; API Gateway HTTP APIs answer them with 404 (as the local gateway
# does), not 405, and that is the gateway's contract, not this API's.
PYTHONPATH=tools SCHEMATHESIS_HOOKS=schemathesis_hooks \
  schemathesis --config-file tools/schemathesis.toml run openapi.yaml \
  --url "$FUZZ_BASE_URL" --checks all --exclude-checks unsupported_method --max-examples 15 --max-time 240 \
  --seed 20261127 --workers 2 --request-timeout 20 --no-color
