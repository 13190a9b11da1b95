#!/usr/bin/env bash
# make dev: the whole API on this machine, on 127.0.0.1 only.
#
#   DynamoDB Local   127.0.0.1:8000  (data kept in .local/dynamodb between runs)
#   SES emulator     127.0.0.1:8005  (sent mail at http://127.0.0.1:8005/)
#   Secrets Manager  127.0.0.1:8010  (moto, in memory: the token-signing key)
#   API              127.0.0.1:9000  (the local gateway: template.yaml's routes, real
#                                     /v1/api/... paths and the pages at /v1/pages/...,
#                                     each request's TCP peer as its source address,
#                                     in front of cargo lambda watch)
#
# Configuration is written once to .local/dev.env and reused. Ctrl-C stops
# everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly DYNAMODB_PORT=8000 SES_PORT=8005 SECRETS_PORT=8010 API_PORT=9000
readonly LOCAL=.local ENV_FILE=.local/dev.env
# Several instances per function, so concurrent requests run in parallel as on Lambda.
readonly CONCURRENCY=4

mkdir -p "$LOCAL/dynamodb"

# shellcheck source=tools/local-stack.sh
source tools/local-stack.sh

for port in $DYNAMODB_PORT $SES_PORT $SECRETS_PORT $API_PORT; do
  if port_in_use "$port"; then
    echo "Port $port on 127.0.0.1 is already in use (is another make dev running?). Stop it and try again." >&2
    exit 1
  fi
done

# A file from before the signing keys moved to Secrets Manager, before the
# mailed links had pages to open, or before the session secret and the
# per-client limits, is replaced.
if [[ ! -f $ENV_FILE ]] || ! grep -q '^AWS_ENDPOINT_URL_SECRETS_MANAGER=' "$ENV_FILE" ||
  ! grep -q '^LINK_BASE=' "$ENV_FILE" || ! grep -q '^SESSION_KEY_SECRET_ID=' "$ENV_FILE" ||
  ! grep -q '^CLIENT_LOGIN_LIMIT=' "$ENV_FILE"; then
  write_local_env "$ENV_FILE" "$DYNAMODB_PORT" "$SES_PORT" "$SECRETS_PORT" users "http://127.0.0.1:$API_PORT"
  echo "Wrote $ENV_FILE."
fi
set -a
# shellcheck source=/dev/null
source "$ENV_FILE"
set +a

cleanup() {
  trap - EXIT INT TERM
  stop_local_stack
  echo "Stopped the local stack."
}
trap cleanup EXIT INT TERM

start_dynamodb "$DYNAMODB_PORT" "$LOCAL/dynamodb.log" -dbPath "$LOCAL/dynamodb"
start_ses "$SES_PORT" "$LOCAL/ses.log"
start_secretsmanager "$SECRETS_PORT" "$LOCAL/secretsmanager.log"

echo "Building the functions (the first build takes a few minutes)..."
cargo build --quiet --workspace --bins
wait_for_port "$SES_PORT" "The SES emulator" "$LOCAL/ses.log"
wait_for_port "$SECRETS_PORT" "The Secrets Manager emulator" "$LOCAL/secretsmanager.log"
create_table "$LOCAL/dynamodb.log"
ensure_signing_key

cat <<MSG

  API          http://127.0.0.1:$API_PORT/v1/api   (e.g. POST /v1/api/register)
  Token keys   http://127.0.0.1:$API_PORT/.well-known/openid-configuration (issuer $JWT_ISSUER)
  Pages        $LINK_BASE/reset-password, /verify-email, /confirm-email-change, /cancel-email-change
               (mailed links open them: click one in the mail viewer)
  Mail viewer  http://127.0.0.1:$SES_PORT/          (sent mail as JSON: GET /store)
  DynamoDB     http://127.0.0.1:$DYNAMODB_PORT           (table $TABLE_NAME)

  Logs: .local/*.log and below. Ctrl-C stops everything.

MSG
# cargo lambda logs each spawn with its whole environment at info: keep its
# own log to warnings (the functions get RUST_LOG from the env file).
# Its file watcher runs out of inotify watches on this tree (target/, .venv,
# node_modules), so reloading is off: restart make dev after changing code.
start_functions "$ENV_FILE" "$API_PORT" warn "$CONCURRENCY" "$LOCAL/functions.log" "$LOCAL/gateway.log"
echo "Serving. The functions' log lines go to $LOCAL/functions.log."
wait "${stack_pids[-1]}"
