# Sourced by tools/dev.sh, tools/fuzz.sh and tools/bench.sh: the pieces of a
# local stack (DynamoDB Local, the SES emulator, the Secrets Manager
# emulator, the configuration, the first signing key), each started on
# 127.0.0.1 only. The caller sets `set -euo pipefail` and works from the
# repository root.

stack_pids=()

# Stops everything started through this file; callers trap it on exit.
stop_local_stack() {
  ((${#stack_pids[@]})) && kill "${stack_pids[@]}" 2>/dev/null
  wait 2>/dev/null || true
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A loopback port nothing listens on now.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_for_port PORT WHAT LOG
wait_for_port() {
  for _ in $(seq 1 300); do
    port_in_use "$1" && return 0
    sleep 0.2
  done
  echo "$2 did not start on 127.0.0.1:$1; see $3" >&2
  exit 1
}

# write_local_env FILE DYNAMODB_PORT SES_PORT SECRETS_PORT TABLE ISSUER
# [CLIENT_LIMIT]: the functions' configuration as KEY=VALUE lines. No key
# material: the signing key lives in the Secrets Manager emulator
# (ensure_signing_key). The per-client limits are the contract's, or all
# CLIENT_LIMIT when given.
write_local_env() {
  (
    umask 077
    cat >"$1" <<ENV
TABLE_NAME=$5
JWT_ISSUER=$6
ACCESS_TOKEN_TTL_SECONDS=900
SIGNING_KEYS_SECRET_ID=user-api-signing-keys
SESSION_KEY_SECRET_ID=user-api-session-secret
SES_FROM_ADDRESS=no-reply@example.com
EMAIL_VERIFICATION=required
LINK_BASE=$6/v1/pages
CLIENT_LOGIN_LIMIT=${7:-30}
CLIENT_REGISTER_LIMIT=${7:-10}
CLIENT_MAIL_LIMIT=${7:-10}
CLIENT_REFRESH_LIMIT=${7:-120}
AWS_REGION=us-east-1
AWS_ACCESS_KEY_ID=local
AWS_SECRET_ACCESS_KEY=local
AWS_EC2_METADATA_DISABLED=true
AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$2
AWS_ENDPOINT_URL_SES=http://127.0.0.1:$3
AWS_ENDPOINT_URL_SECRETS_MANAGER=http://127.0.0.1:$4
RUST_LOG=info
ENV
  )
}

# start_dynamodb PORT LOG [-inMemory | -dbPath DIR]
start_dynamodb() {
  local port=$1 log=$2
  shift 2
  tools/emulator.sh dynamodb "$port" "$@" >"$log" 2>&1 &
  stack_pids+=($!)
}

# start_ses PORT LOG
start_ses() {
  tools/emulator.sh ses "$1" >"$2" 2>&1 &
  stack_pids+=($!)
}

# start_secretsmanager PORT LOG
start_secretsmanager() {
  tools/emulator.sh secretsmanager "$1" >"$2" 2>&1 &
  stack_pids+=($!)
}

# ensure_signing_key: adds and activates the first token-signing key when
# the table's key set has none (a fresh local stack), as a deployer does once
# after the first deploy. The Secrets Manager emulator keeps nothing between
# runs while make dev's table does: then the active key's private half is
# gone, and a new key replaces it at once.
ensure_signing_key() {
  local keys
  # The session secret too: the template generates the deployed one.
  target/debug/users-admin session-secret create >/dev/null
  keys=$(target/debug/users-admin keys list)
  if grep -q '^no signing keys' <<<"$keys"; then
    target/debug/users-admin keys add --activate
  elif grep -P '\tactive\t.*private half missing' <<<"$keys" >/dev/null; then
    target/debug/users-admin keys add --activate --force
  fi
}

# create_table LOG: creates TABLE_NAME (from the environment) once DynamoDB
# Local serves requests, which is a moment after it accepts connections.
create_table() {
  for attempt in $(seq 1 60); do
    target/debug/users-admin create-table >/dev/null 2>&1 && return 0
    sleep 1
  done
  target/debug/users-admin create-table || { echo "see $1" >&2; exit 1; }
}

# start_scratch_stack DIR TABLE ISSUER [CLIENT_LIMIT]: an in-memory DynamoDB
# Local with the table created, the SES emulator and the Secrets Manager
# emulator holding a signing key, on fresh loopback ports (in DYNAMODB_PORT,
# SES_PORT and SECRETS_PORT), their configuration written to DIR/env and
# exported. Logs go to DIR. Runs whose requests all come from one address
# and are not about the per-client limits (fuzzing, the benchmark, the page
# tests) raise them with CLIENT_LIMIT.
start_scratch_stack() {
  DYNAMODB_PORT=$(free_port) SES_PORT=$(free_port) SECRETS_PORT=$(free_port)
  write_local_env "$1/env" "$DYNAMODB_PORT" "$SES_PORT" "$SECRETS_PORT" "$2" "$3" "${4:-}"
  set -a
  # shellcheck source=/dev/null
  source "$1/env"
  set +a
  start_dynamodb "$DYNAMODB_PORT" "$1/dynamodb.log" -inMemory
  start_ses "$SES_PORT" "$1/ses.log"
  start_secretsmanager "$SECRETS_PORT" "$1/secretsmanager.log"
  wait_for_port "$SES_PORT" "The SES emulator" "$1/ses.log"
  wait_for_port "$SECRETS_PORT" "The Secrets Manager emulator" "$1/secretsmanager.log"
  create_table "$1/dynamodb.log"
  ensure_signing_key
}

# start_scratch_functions DIR PORT LEVEL: the function binaries behind cargo
# lambda watch, and the local gateway in front of it on 127.0.0.1:PORT,
# configured by start_scratch_stack's DIR/env, logging at RUST_LOG=LEVEL to
# DIR/functions.log; returns once they listen.
# No reloading (--ignore-changes): a one-off run changes no code.
start_scratch_functions() {
  start_functions "$1/env" "$2" "$3" 2 "$1/functions.log" "$1/gateway.log"
}

# start_functions ENV_FILE PORT LEVEL CONCURRENCY FUNCTIONS_LOG GATEWAY_LOG:
# cargo lambda watch (its own HTTP router unused) on a free port, and the
# local gateway (tools/local-gateway.py) on 127.0.0.1:PORT, which passes each
# request's TCP peer as its source address, as API Gateway does.
start_functions() {
  local watch_port
  watch_port=$(free_port)
  RUST_LOG=$3 cargo lambda watch --quiet --ignore-changes -A 127.0.0.1 -P "$watch_port" \
    --env-file "$1" --concurrency "$4" >"$5" 2>&1 &
  stack_pids+=($!)
  .venv/bin/python tools/local-gateway.py --template template.yaml --port "$2" \
    --invoke "http://127.0.0.1:$watch_port" >"$6" 2>&1 &
  stack_pids+=($!)
  wait_for_port "$watch_port" "cargo lambda watch" "$5"
  wait_for_port "$2" "The local gateway" "$6"
}
