#!/usr/bin/env bash
# Runs every check and test of flowgate, in this order:
#
#   fmt      cargo fmt --check over the workspace
#   clippy   cargo clippy --workspace --all-targets --all-features -- -D warnings
#   rust     cargo nextest run --workspace --all-features (cargo test when nextest is absent);
#            installs the pinned Prism contract mock the Alfresco adapter's contract test
#            needs (adapters/alfresco/tests/contract-mock, npm ci) and requires that test
#            to run (FLOWGATE_REQUIRE_PRISM=1)
#   ops      scripts/ci-extra.sh: Dockerfile lint and headless-Chromium browser tests
#            (installs chromium with apt-get and hadolint with pip when missing)
#   extra    every scripts/test.d/*.sh, in name order (hook for further checks)
#   python   the official Nuxeo Python client against the debug gateway (pytest)
#   js       the official Nuxeo JavaScript client against the debug gateway (node --test)
#   schemathesis  scripts/schemathesis.sh: property-based tests of the debug gateway against
#            its own OpenAPI description (every check, stateful phase; zero failures)
#
# Usage: bash scripts/test.sh [STAGE...]     (no argument: every stage)
#
# Every stage runs even when an earlier one failed; the script exits non-zero when any
# failed and names them. Nothing is printed after the last stage when all passed, so the
# output ends with the test runners' own summary lines. The client stages reuse the debug binary the rust stage built
# (FLOWGATE_BIN) and install their pinned dependencies when missing:
# tests/clients/python/.venv (pip), tests/clients/js/node_modules (npm ci) and
# target/schemathesis-venv (pip).
# .ci/run installs them up front; a developer machine needs python3 (with venv) and node 20.
#
# To add a check, drop an executable-or-not bash script into scripts/test.d/; it runs from
# the repository root with FLOWGATE_BIN exported and fails the run by exiting non-zero.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
export FLOWGATE_BIN="${FLOWGATE_BIN:-$TARGET_DIR/debug/flowgate}"
PY_DIR="$ROOT/tests/clients/python"
JS_DIR="$ROOT/tests/clients/js"
PRISM_DIR="$ROOT/adapters/alfresco/tests/contract-mock"

ALL_STAGES=(fmt clippy rust ops extra python js schemathesis)
FAILED=()

banner() { printf '\n==> %s\n' "$*"; }

stage_fmt() {
  cargo fmt --all -- --check
}

stage_clippy() {
  cargo clippy --workspace --all-targets --all-features -- -D warnings
}

ensure_prism() {
  if [[ ! -x "$PRISM_DIR/node_modules/.bin/prism" ]]; then
    (cd "$PRISM_DIR" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  # The Alfresco contract test fails instead of skipping when Prism is missing.
  export FLOWGATE_REQUIRE_PRISM=1
}

# The PostgreSQL server of the tests (scripts/postgres.sh starts Debian's cluster and
# makes a role and database); in CI a missing server fails the stage, elsewhere its
# tests skip with a message.
ensure_postgres() {
  [[ -n "${FLOWGATE_TEST_DATABASE_URL:-}" ]] && return 0
  local url
  if url="$(bash "$ROOT/scripts/postgres.sh")"; then
    export FLOWGATE_TEST_DATABASE_URL="$url"
  elif [[ -n "${CI:-}" ]]; then
    echo "PostgreSQL is required in CI and could not be started" >&2
    return 1
  else
    echo "no PostgreSQL server: the tests that need one are skipped" >&2
  fi
}

stage_rust() {
  ensure_prism
  ensure_postgres
  # Build the gateway binary with the same features as the tests, so that nextest and
  # the client stages reuse one build.
  cargo build --workspace --all-features --bins
  if cargo nextest --version >/dev/null 2>&1; then
    # One retry: a timing-sensitive test that fails once on a loaded machine and then
    # passes is reported as FLAKY in the summary instead of failing the run.
    cargo nextest run --workspace --all-features --no-fail-fast --retries 1
  else
    cargo test --workspace --all-features --no-fail-fast
  fi
}

ensure_gateway_binary() {
  if [[ ! -x "$FLOWGATE_BIN" ]]; then
    cargo build -p flowgate --all-features --bin flowgate
  fi
}

ensure_python_env() {
  if [[ ! -x "$PY_DIR/.venv/bin/python" ]]; then
    python3 -m venv "$PY_DIR/.venv"
  fi
  # Fast and offline when every pinned requirement is already installed.
  "$PY_DIR/.venv/bin/python" -m pip install --disable-pip-version-check -q -r "$PY_DIR/requirements.txt"
}

stage_python() {
  ensure_gateway_binary
  ensure_postgres
  ensure_python_env
  local rc=0
  (cd "$PY_DIR" && .venv/bin/python -m pytest) || rc=$?
  if [[ $rc -eq 5 ]]; then
    # Exit 5 = no test collected. The client tests always exist, so this is a failure.
    echo "pytest collected no tests in $PY_DIR" >&2
  fi
  if [[ -n "${FLOWGATE_TEST_DATABASE_URL:-}" ]]; then
    # The review suites again, against two replicas on one PostgreSQL schema behind
    # nginx, consecutive requests alternating between them.
    banner "python: two replicas on PostgreSQL behind nginx"
    (cd "$PY_DIR" && FLOWGATE_TEST_REPLICAS=2 .venv/bin/python -m pytest \
      --ignore=test_webhooks.py --ignore=test_remote_engines.py) || rc=$?
  fi
  return "$rc"
}

stage_js() {
  ensure_gateway_binary
  if [[ ! -d "$JS_DIR/node_modules/nuxeo" ]]; then
    (cd "$JS_DIR" && npm ci --no-audit --no-fund)
  fi
  (cd "$JS_DIR" && node --test --test-concurrency=1)
}

stage_schemathesis() {
  ensure_gateway_binary
  bash "$ROOT/scripts/schemathesis.sh"
}

stage_ops() {
  bash "$ROOT/scripts/ci-extra.sh"
}

stage_extra() {
  local script
  shopt -s nullglob
  for script in "$ROOT"/scripts/test.d/*.sh; do
    banner "extra: ${script#"$ROOT"/}"
    bash "$script"
  done
  shopt -u nullglob
}

main() {
  local stages=("$@")
  [[ ${#stages[@]} -gt 0 ]] || stages=("${ALL_STAGES[@]}")
  local s
  for s in "${stages[@]}"; do
    if ! declare -F "stage_$s" >/dev/null; then
      echo "unknown stage '$s' (stages: ${ALL_STAGES[*]})" >&2
      exit 2
    fi
  done
  local start=$SECONDS
  for s in "${stages[@]}"; do
    banner "$s (elapsed $((SECONDS - start))s)"
    # A subshell outside any `if`/`||`, so that `set -e` holds inside the stage: its
    # first failing command fails the stage.
    set +e
    (set -e; "stage_$s")
    local rc=$?
    set -e
    if [[ $rc -ne 0 ]]; then
      echo "==> $s FAILED (exit $rc)"
      FAILED+=("$s")
    fi
  done
  if [[ ${#FAILED[@]} -gt 0 ]]; then
    echo "failed stages: ${FAILED[*]}" >&2
    exit 1
  fi
}

main "$@"
