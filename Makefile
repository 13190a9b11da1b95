# Two commands matter: `make dev` serves the whole API locally, `make test`
# runs every check. Both install what is missing first.
SHELL := bash
.SHELLFLAGS := -o pipefail -c
.DEFAULT_GOAL := help

# Dummy credentials and no instance metadata: the AWS SDK must never look
# beyond the local emulators.
export AWS_ACCESS_KEY_ID ?= test
export AWS_SECRET_ACCESS_KEY ?= test
export AWS_REGION ?= us-east-1
export AWS_EC2_METADATA_DISABLED := true
export AWS_DEFAULT_REGION ?= us-east-1
# SAM's telemetry would try the internet on every command.
export SAM_CLI_TELEMETRY := 0

VENV := .venv
# Every function package, for the builds that take them all at once.
FUNCTION_PACKAGES := $(addprefix -p ,$(notdir $(wildcard functions/*)))
# What the sam local smoke test serves and calls; CI's bench measures these
# (and the floors) on x86_64, and so builds what the smoke test runs.
SMOKE_FUNCTIONS := register,verify-email,login,get-user,logout,well-known
PYTHON_TOOLS := $(VENV)/.installed
PYTHON_TEST_TOOLS := $(VENV)/.test-installed
NODE_TOOLS := tools/node_modules/.installed
# Cargo subcommands the checks run, pinned here and built into .local.
CARGO_MACHETE_VERSION := 0.9.2
CARGO_TOOLS := .local/cargo-tools/.machete-$(CARGO_MACHETE_VERSION)
SYSTEM_TOOLS := .local/.system-checked
# What only the checks need: Chromium, rustfmt and clippy, cargo-machete.
TEST_SYSTEM_TOOLS := .local/.test-system-checked
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help dev test test-summary bench bench-ci package sam-local sam-local-test admin new-route remove-route tools test-tools clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

dev: tools ## Serve the whole API on 127.0.0.1:9000 (Ctrl-C stops it)
	tools/dev.sh

test: test-tools ## fmt, clippy, unused dependencies, template checks, unit, integration, black-box, fuzz and browser tests
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	@# No crate lists a dependency it does not use.
	.local/cargo-tools/bin/cargo-machete
	cfn-lint template.yaml examples/protected-api/template.yaml examples/edge-protection/template.yaml
	sam validate --lint
	@# The black-box tests run these binaries behind cargo lambda watch.
	cargo build --workspace --bins
	@mkdir -p target
	cargo test --workspace 2>&1 | tee target/test-output.log
	@# Schema-driven fuzzing of the running stack (about 4 minutes).
	tools/fuzz.sh
	@# The pages of the mailed links in headless Chromium (screenshots in target/screenshots).
	tools/browser-tests.sh
	@$(MAKE) -s test-summary

test-summary: ## Print the totals of the last cargo test run
	@awk '/^test result:/ {passed += $$4; failed += $$6} END {printf "tests: %d passed, %d failed\n", passed, failed}' target/test-output.log

bench: tools ## Measure the release builds of every function: size, cold start, latency, CPU, memory (writes BENCHMARKS.md)
	tools/bench.sh

bench-ci: tools ## CI's bench: every arm64 size, and on x86_64 the smoke test's functions and the floors (prints, writes no report)
	BENCH_ONLY=$(SMOKE_FUNCTIONS),hello-world,sdk-floor BENCH_ARM64=all tools/bench.sh

package: tools ## Build every function for arm64 with sam build (.aws-sam/build)
	rustup target add aarch64-unknown-linux-gnu
	@# Every function in one cargo run, so their release links (fat LTO, one
	@# codegen unit: one core each) run side by side; sam build's own
	@# per-function cargo lambda runs then find them built and only copy.
	cargo lambda build --release --arm64 $(FUNCTION_PACKAGES)
	@touch target/.package-built
	sam build
	@# They only copy as long as no crate's features depend on which functions
	@# are built together (Cargo.toml): otherwise each is compiled and linked
	@# again, one at a time (20 minutes of CI), into a binary make bench did not measure.
	@rebuilt=$$(find target/aarch64-unknown-linux-gnu/release/deps -type f -newer target/.package-built); \
	if [ -n "$$rebuilt" ]; then \
	  echo "sam build compiled again what make package had built: a crate's features differ when a function is built alone (see Cargo.toml, [workspace.dependencies])." >&2; \
	  echo "$$rebuilt" >&2; exit 1; \
	fi

sam-local: tools ## Serve template.yaml with sam local start-api on 127.0.0.1:3000 (needs Docker and a running make dev)
	tools/sam-local.sh

sam-local-test: tools ## The sam local smoke test: its own emulators, sam local start-api, register to logout through it
	SAM_LOCAL_FUNCTIONS=$(SMOKE_FUNCTIONS) tools/sam-local-smoke.sh

admin: ## users-admin on the local stack, e.g. make admin ARGS="promote ada@example.com"
	@test -f .local/dev.env || { echo "No .local/dev.env yet: run make dev first (it writes it)." >&2; exit 1; }
	set -a && source .local/dev.env && set +a && cargo run --quiet -p users-admin -- $(ARGS)

new-route: ## Scaffold a route: make new-route NAME=get-avatar ROUTE='GET /v1/api/user/avatar'
	@# ROUTE, not METHOD and PATH: a PATH= on make's command line would replace the shell's.
	@test -n "$(NAME)" -a -n "$(ROUTE)" || { echo "usage: make new-route NAME=get-avatar ROUTE='GET /v1/api/user/avatar'" >&2; exit 2; }
	python3 tools/new-route.py add "$(NAME)" $(ROUTE)

remove-route: ## Take a route away again: make remove-route NAME=get-avatar
	@test -n "$(NAME)" || { echo "usage: make remove-route NAME=get-avatar" >&2; exit 2; }
	python3 tools/new-route.py remove "$(NAME)"
	@# Drops the package from Cargo.lock.
	cargo metadata --format-version 1 >/dev/null

tools: $(SYSTEM_TOOLS) $(NODE_TOOLS) $(PYTHON_TOOLS) ## Install the pinned tools that make dev needs

test-tools: tools $(TEST_SYSTEM_TOOLS) $(CARGO_TOOLS) $(PYTHON_TEST_TOOLS) ## Install those and what only make test needs

$(SYSTEM_TOOLS): tools/ensure-system.sh
	tools/ensure-system.sh
	@mkdir -p $(@D) && touch $@

$(TEST_SYSTEM_TOOLS): tools/ensure-system.sh
	tools/ensure-system.sh --for-tests
	@mkdir -p $(@D) && touch $@

$(CARGO_TOOLS): | $(SYSTEM_TOOLS)
	cargo install --quiet --locked --root .local/cargo-tools cargo-machete --version $(CARGO_MACHETE_VERSION)
	@touch $@

$(NODE_TOOLS): tools/package.json tools/package-lock.json | $(SYSTEM_TOOLS)
	cd tools && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(PYTHON_TOOLS): tools/requirements.txt | $(SYSTEM_TOOLS)
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements.txt
	@touch $@

$(PYTHON_TEST_TOOLS): tools/requirements-test.txt tools/requirements.txt | $(PYTHON_TOOLS)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements-test.txt
	@touch $@

clean: ## Remove build output, installed tools and local data
	cargo clean
	rm -rf $(VENV) tools/node_modules .local
