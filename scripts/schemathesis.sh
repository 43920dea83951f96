#!/usr/bin/env bash
# Property-based API tests: schemathesis against the running gateway's own OpenAPI
# description, with every check and every phase (examples, coverage, fuzzing and the
# stateful phase, which follows the description's links from POST /workflow to the
# workflow and task operations). Any failure fails the script.
#
#   bash scripts/schemathesis.sh               # build, start, test, stop
#   MAX_EXAMPLES=50 bash scripts/schemathesis.sh
#
# Starts FLOWGATE_BIN (built with `cargo build -p flowgate --bin flowgate` when absent)
# with config/dev.toml on a free loopback port and a throw-away data directory, signed
# in as the development administrator (Administrator:Administrator, see config/dev.toml).
# schemathesis is installed with pip into target/schemathesis-venv from
# tests/schemathesis/requirements.txt (pinned); tests/schemathesis/schemathesis.toml holds
# its settings (one check is off for one operation; the file says why). The report (JUnit XML and the
# reproducing cURL commands in the log) goes to target/schemathesis/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="${FLOWGATE_BIN:-$TARGET_DIR/debug/flowgate}"
ST_DIR="$ROOT/tests/schemathesis"
VENV="$TARGET_DIR/schemathesis-venv"
OUT="$TARGET_DIR/schemathesis"
MAX_EXAMPLES="${MAX_EXAMPLES:-25}"
# Upper bound of the whole run; schemathesis' own budget (--max-time) ends it earlier.
RUN_SECONDS="${RUN_SECONDS:-600}"

step() { printf '\n== %s\n' "$*"; }

step "schemathesis"
if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
fi
# Fast and offline when the pinned version is already installed.
"$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$ST_DIR/requirements.txt"
"$VENV/bin/st" --version

if [[ ! -x "$BIN" ]]; then
  step "build"
  cargo build -p flowgate --bin flowgate
fi

mkdir -p "$OUT"
WORK="$(mktemp -d)"
GATEWAY_PID=""
cleanup() {
  if [[ -n "$GATEWAY_PID" ]] && kill -0 "$GATEWAY_PID" 2>/dev/null; then
    kill "$GATEWAY_PID" 2>/dev/null || true
    wait "$GATEWAY_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# A free loopback port, picked by the kernel.
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"

step "start the gateway on $BASE"
# The authentication checks send hundreds of invalid credentials from one address;
# sign-in throttling would answer them 429 (it has its own tests in
# tests/gateway/sign_in_guard.rs), so it is off for this run.
FLOWGATE__ENGINES__LOCAL__DATA_DIR="$WORK/data" \
FLOWGATE__LOG__LEVEL="${FLOWGATE_LOG_LEVEL:-warn}" \
FLOWGATE__AUTH__LOGIN_FAILURES_PER_MINUTE=0 \
FLOWGATE__AUTH__LOGIN_FAILURES_PER_MINUTE_PER_ADDRESS=0 \
RUST_BACKTRACE=1 \
  "$BIN" serve --config config/dev.toml --bind "127.0.0.1:$PORT" >"$OUT/gateway.log" 2>&1 &
GATEWAY_PID=$!
for _ in $(seq 1 100); do
  if curl -fsS -o /dev/null "$BASE/health/ready" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$GATEWAY_PID" 2>/dev/null; then
    echo "the gateway exited; its log:" >&2
    cat "$OUT/gateway.log" >&2
    exit 1
  fi
  sleep 0.1
done
curl -fsS -o /dev/null "$BASE/health/ready"

# use_after_free is left out (see tests/schemathesis/schemathesis.toml: DELETE
# /workflow/{id} cancels, and the cancelled workflow stays readable as in Nuxeo; the
# command line's --checks all would override a setting in the file).
# GET /api/v1/events is a Server-Sent Events stream that stays open (up to
# events.max_stream_secs), so every generated request would only run into the request
# timeout; tests/gateway/events_stream.rs covers it over a real socket instead.
step "schemathesis run (max $MAX_EXAMPLES examples per operation)"
rc=0
timeout --kill-after=10 "$RUN_SECONDS" \
  "$VENV/bin/st" --config-file "$ST_DIR/schemathesis.toml" run "$BASE/api/v1/openapi.json" \
  --url "$BASE" \
  --checks all \
  --exclude-checks use_after_free \
  --phases examples,coverage,fuzzing,stateful \
  --auth Administrator:Administrator \
  --max-examples "$MAX_EXAMPLES" \
  --max-time "$((RUN_SECONDS - 60))" \
  --request-timeout 10 \
  --exclude-path /api/v1/events \
  --workers 1 \
  --seed "${SEED:-20}" \
  --generation-database none \
  --no-color \
  --report junit \
  --report-dir "$OUT" || rc=$?

if [[ $rc -ne 0 ]]; then
  echo "schemathesis failed (exit $rc); gateway log: $OUT/gateway.log" >&2
fi
exit "$rc"
