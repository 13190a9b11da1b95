#!/usr/bin/env bash
# make sam-local: serves template.yaml through `sam local start-api` on
# 127.0.0.1:3000 (every route, in Docker, as API Gateway and Lambda would),
# against the emulators of a running `make dev` (.local/dev.env).
#
#   1. builds every function for x86_64 (one cargo lambda run: the same one
#      make bench does, so after a bench it only copies) into
#      target/sam-local/functions/<function>/bootstrap, and checks that none
#      needs a glibc newer than Amazon Linux 2023's 2.34;
#   2. writes target/sam-local/template.yaml (template.yaml with each
#      CodeUri at its bootstrap) and target/sam-local/env.json (make dev's
#      configuration, for the variables the template declares);
#   3. runs sam local start-api with Architecture=x86_64 (arm64 would need
#      emulation) and warm containers; `tools/sam-local.sh invoke
#      GetUserFunction -e events/get-user.json` runs sam local invoke instead.
#
# On Linux the containers join the host's network (tools/sam-local/
# sam_hostnet.py: SAM's own --docker-network host does not), so the
# functions reach the emulators at 127.0.0.1 as make dev's do. On Docker
# Desktop (macOS, Windows) they reach them at host.docker.internal instead.
# SAM_LOCAL_OFFLINE=1 adds what only a machine without registry access needs
# (tools/sam-local/offline-docker.sh: a private daemon and a stand-in image).
set -euo pipefail
cd "$(dirname "$0")/.."

readonly ENV_FILE=${SAM_LOCAL_ENV_FILE:-.local/dev.env} PORT=${SAM_LOCAL_PORT:-3000}
readonly WORK=target/sam-local
[[ -f $ENV_FILE ]] || { echo "No $ENV_FILE: start make dev first (it writes it and runs the emulators)." >&2; exit 1; }
command -v docker >/dev/null || { echo "sam local needs Docker (docker.com, or Debian's docker.io)." >&2; exit 1; }

# SAM_LOCAL_FUNCTIONS=register,login,...: build and serve only those (the
# smoke test's); the other routes are left out of the local template.
readonly ONLY=${SAM_LOCAL_FUNCTIONS:-}
functions=()
if [[ -n $ONLY ]]; then
  IFS=, read -ra selected <<<"$ONLY"
  for package in "${selected[@]}"; do functions+=(-p "$package"); done
else
  for dir in functions/*/; do functions+=(-p "$(basename "$dir")"); done
fi
mkdir -p "$WORK"
cargo lambda build --quiet --release --target x86_64-unknown-linux-gnu "${functions[@]}" \
  --lambda-dir "$WORK/build"
# Running containers execute the bootstraps in functions/ (an invoke beside
# a running start-api): a changed one is renamed into place, never rewritten.
for built in "$WORK"/build/*/bootstrap; do
  served=$WORK/functions/$(basename "$(dirname "$built")")/bootstrap
  cmp -s "$built" "$served" && continue
  mkdir -p "$(dirname "$served")"
  cp "$built" "$served.new" && mv "$served.new" "$served"
done

# A bootstrap that needs a newer glibc than Lambda's would still run in a
# local image with a newer one: refuse it here.
for bootstrap in "$WORK"/functions/*/bootstrap; do
  newest=$(objdump -T "$bootstrap" | grep -o 'GLIBC_[0-9.]*' | sort -Vu | tail -1)
  if [[ $(printf '%s\n' "$newest" GLIBC_2.34 | sort -V | tail -1) != GLIBC_2.34 ]]; then
    echo "$bootstrap needs $newest; Lambda's provided.al2023 has glibc 2.34" >&2
    exit 1
  fi
done

.venv/bin/python tools/sam-local/local_template.py template.yaml "$WORK/template.yaml" "$WORK/functions" "$ONLY"

endpoint_host=127.0.0.1
[[ $(uname -s) == Linux ]] || endpoint_host=host.docker.internal
.venv/bin/python - "$ENV_FILE" "$WORK/env.json" "$PORT" "$endpoint_host" <<'PY'
import json, sys
env_file, out, port, host = sys.argv[1:]
values = dict(line.split("=", 1) for line in open(env_file).read().splitlines() if "=" in line and not line.startswith("#"))
# SAM passes the shell's credentials and region itself.
for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_EC2_METADATA_DISABLED"):
    values.pop(name, None)
values = {k: v.replace("127.0.0.1", host) if k.startswith("AWS_ENDPOINT_URL_") else v for k, v in values.items()}
# Tokens and links name the address this API is served at.
values["JWT_ISSUER"] = f"http://127.0.0.1:{port}"
values["LINK_BASE"] = f"http://127.0.0.1:{port}/v1/pages"
json.dump({"Parameters": values}, open(out, "w"), indent=2)
PY

sam=(.venv/bin/sam)
flags=()
if [[ $(uname -s) == Linux ]]; then
  sam=(env PYTHONPATH=tools/sam-local .venv/bin/python -m sam_hostnet)
  flags+=(--docker-network host --container-host 127.0.0.1 --container-host-interface 127.0.0.1)
fi
if [[ ${SAM_LOCAL_OFFLINE:-} == 1 ]]; then
  export DOCKER_HOST=${DOCKER_HOST:-unix://$PWD/.local/sam-local-docker/docker.sock}
  flags+=(--skip-pull-image)
  # SAM asks STS who the caller is at every start: a closed loopback port
  # answers at once instead of 7-9 s of failing lookups.
  export AWS_ENDPOINT_URL_STS=http://127.0.0.1:9 AWS_MAX_ATTEMPTS=1
fi
export SAM_CLI_TELEMETRY=0 AWS_EC2_METADATA_DISABLED=true
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
export AWS_REGION=${AWS_REGION:-us-east-1} AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
common=(-t "$WORK/template.yaml" --env-vars "$WORK/env.json" --parameter-overrides Architecture=x86_64)
if [[ ${1:-} == invoke ]]; then
  shift
  exec "${sam[@]}" local invoke "${common[@]}" "${flags[@]}" "$@"
fi
echo "sam local start-api on http://127.0.0.1:$PORT (Ctrl-C stops it)"
exec "${sam[@]}" local start-api "${common[@]}" --host 127.0.0.1 --port "$PORT" \
  --warm-containers EAGER "${flags[@]}"
