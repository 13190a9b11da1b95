#!/usr/bin/env bash
# The sam local smoke test: a scratch stack (DynamoDB Local, the SES
# emulator, the Secrets Manager emulator on fresh loopback ports), then
# `tools/sam-local.sh` (what `make sam-local` runs) serving template.yaml,
# then register -> verify -> login -> get-user -> logout through it. Stops
# everything it started, containers and (offline) the private dockerd
# included, also when a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly WORK=target/sam-local-smoke
rm -rf "$WORK" && mkdir -p "$WORK"
# shellcheck source=tools/local-stack.sh
source tools/local-stack.sh
sam_pid=""
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  [[ -n $sam_pid ]] && kill -TERM -- "-$sam_pid" 2>/dev/null && wait "$sam_pid" 2>/dev/null
  if [[ ${SAM_LOCAL_OFFLINE:-} == 1 ]]; then
    tools/sam-local/offline-docker.sh stop || status=1
  fi
  stop_local_stack
  ((status == 0)) || echo "sam local smoke test failed; logs in $WORK" >&2
  exit "$status"
}
trap cleanup EXIT INT TERM

[[ ${SAM_LOCAL_OFFLINE:-} == 1 ]] && tools/sam-local/offline-docker.sh setup
start_scratch_stack "$WORK" sam-local http://127.0.0.1
PORT=$(free_port)
SAM_LOCAL_ENV_FILE=$WORK/env SAM_LOCAL_PORT=$PORT setsid tools/sam-local.sh >"$WORK/sam.log" 2>&1 &
sam_pid=$!
for _ in $(seq 1 900); do
  port_in_use "$PORT" && break
  kill -0 "$sam_pid" 2>/dev/null || { tail -20 "$WORK/sam.log" >&2; exit 1; }
  sleep 0.2
done

API=http://127.0.0.1:$PORT/v1/api
# call METHOD PATH EXPECTED_STATUS [BODY] [TOKEN]: prints the body.
call() {
  local args=(-s -o "$WORK/body" -w '%{http_code}' -X "$1" "$API$2" -m 60)
  [[ -n ${4:-} ]] && args+=(-H 'Content-Type: application/json' -d "$4")
  [[ -n ${5:-} ]] && args+=(-H "Authorization: Bearer $5")
  local status
  status=$(curl "${args[@]}")
  # The route, not the path: a mailed token in the path stays out of the log.
  local route=$2
  [[ $route == /verify_email/* ]] && route=/verify_email/{token}
  echo "sam local start-api: $1 $route -> $status" >&2
  [[ $status == "$3" ]] || { cat "$WORK/body" >&2; echo >&2; exit 1; }
  cat "$WORK/body"
}
json() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }

address=smoke-$RANDOM@example.com password='correct horse battery staple'
call POST /register 201 "{\"email\": \"$address\", \"password\": \"$password\", \"name\": \"Smoke\"}" >/dev/null
token=$(curl -s "http://127.0.0.1:$SES_PORT/store" | python3 -c "
import json, sys
for email in json.load(sys.stdin)['emails']:
    if '$address' in email['destination']['to']:
        print(email['body']['text'].split('#token=')[1].split()[0])")
call POST "/verify_email/$token" 200 >/dev/null
access=$(call POST /login 200 "{\"email\": \"$address\", \"password\": \"$password\"}" | json "['token']")
[[ $(call GET /user 200 "" "$access" | json "['user']['email']") == "$address" ]]
call POST /logout 200 "" "$access" >/dev/null
call GET /user 401 "" "$access" >/dev/null

# sam local invoke, one event file of events/, the same way.
SAM_LOCAL_ENV_FILE=$WORK/env SAM_LOCAL_PORT=$PORT tools/sam-local.sh invoke WellKnownFunction \
  -e events/well-known-jwks.json >"$WORK/invoke.json" 2>"$WORK/invoke.log"
python3 -c "
import json, sys
response = json.load(open('$WORK/invoke.json'))
assert response['statusCode'] == 200, response
assert json.loads(response['body'])['keys'], response
"
echo "sam local invoke: WellKnownFunction events/well-known-jwks.json -> 200" >&2
echo "sam local smoke test passed"
