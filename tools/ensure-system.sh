#!/usr/bin/env bash
# Checks for the system programs the project's tools run on (Java for
# DynamoDB Local, Node.js and npm for the emulators, Python's venv for the
# cargo-lambda and SAM tools; with --for-tests also Chromium and chromedriver
# for the page tests, rustfmt and clippy, which make dev does not need) and
# installs whatever is missing from Debian's packages or rustup when it can.
set -euo pipefail

need_apt=()
command -v java >/dev/null || need_apt+=(openjdk-17-jre-headless)
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
python3 -c 'import ensurepip, venv' 2>/dev/null || need_apt+=(python3-venv)
for_tests=false
[[ ${1:-} == --for-tests ]] && for_tests=true
if $for_tests; then
  # The page tests drive Debian's headless Chromium through its chromedriver.
  command -v chromium >/dev/null || need_apt+=(chromium)
  command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
fi

if ((${#need_apt[@]})); then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "Installing ${need_apt[*]} ..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
  else
    echo "Missing system packages: ${need_apt[*]}. Install them (e.g. sudo apt-get install ${need_apt[*]}) and run make again." >&2
    exit 1
  fi
fi

if $for_tests; then
  for component in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$component" || rustup component add "$component"
  done
fi
