#!/usr/bin/env bash
# The pages of the mailed links in a real browser: headless Chromium, driven
# by Selenium (tools/requirements-test.txt) through Debian's chromedriver, against
# the real function binaries (cargo lambda watch), DynamoDB Local, the SES
# emulator and the Secrets Manager emulator, all on fresh loopback ports.
# Screenshots of each state go to target/screenshots/. Run by `make test`
# after the function binaries are built.
set -euo pipefail
cd "$(dirname "$0")/.."

for program in chromium chromedriver; do
  if ! command -v "$program" >/dev/null; then
    echo "The page tests need $program: install Debian's chromium and chromium-driver packages (tools/ensure-system.sh does, run as root), then run make test again." >&2
    exit 1
  fi
done

readonly WORK=target/browser
rm -rf "$WORK" target/screenshots && mkdir -p "$WORK" target/screenshots
# shellcheck source=tools/local-stack.sh
source tools/local-stack.sh
trap stop_local_stack EXIT INT TERM
# The mailed links point at the API's own pages, so the API's port comes first.
API_PORT=$(free_port)
readonly API_PORT
start_scratch_stack "$WORK" browser "http://127.0.0.1:$API_PORT" 1000000

# The gateway logs at info (its most detailed level short of debug, which
# would print every request's path: API.md routes 5, 15 and 16 carry the
# token in theirs, which is why the deployed access log records the route
# key instead); the functions log at info from the env file.
start_scratch_functions "$WORK" "$API_PORT" info

export PAGES_API_BASE="http://127.0.0.1:$API_PORT"
export PAGES_SES_BASE="http://127.0.0.1:$SES_PORT"
export PAGES_LOG_DIR="$WORK"
export PAGES_SCREENSHOTS=target/screenshots
# Debian's Chromium and chromedriver only: Selenium must never download one.
export SE_OFFLINE=true
pytest -q -p no:cacheprovider --tb=short "$@" tests/browser
