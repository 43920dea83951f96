#!/usr/bin/env bash
# Prints the URL of a PostgreSQL server for the tests and benchmarks, on loopback.
#
# FLOWGATE_TEST_DATABASE_URL set: printed as it is. Otherwise Debian's newest cluster
# `main` is started when it is down (pg_ctlcluster), and a role and a database named
# flowgate_test are created on first use. The role's password is a test-only credential
# for a server that listens on loopback; it guards nothing else.
# Needs root (or the postgres user) for the first start; exits non-zero with a reason
# when there is no PostgreSQL to use.
set -euo pipefail

if [[ -n "${FLOWGATE_TEST_DATABASE_URL:-}" ]]; then
  echo "$FLOWGATE_TEST_DATABASE_URL"
  exit 0
fi
command -v pg_lsclusters >/dev/null || { echo "postgres.sh: PostgreSQL is not installed (Debian package postgresql)" >&2; exit 1; }
VERSION="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)"
[[ -n "$VERSION" ]] || { echo "postgres.sh: no cluster under /etc/postgresql" >&2; exit 1; }
line() { pg_lsclusters -h | awk -v v="$VERSION" '$1 == v && $2 == "main"'; }
[[ -n "$(line)" ]] || { echo "postgres.sh: cluster $VERSION/main does not exist" >&2; exit 1; }
if [[ "$(line | awk '{print $4}')" != online* ]]; then
  pg_ctlcluster "$VERSION" main start >&2
fi
PORT="$(line | awk '{print $3}')"
as_postgres() {
  if [[ "$(id -un)" == postgres ]]; then "$@"; else runuser -u postgres -- "$@"; fi
}
psql_admin() { as_postgres psql -X -q -p "$PORT" -v ON_ERROR_STOP=1 -tA "$@"; }
for _ in $(seq 1 50); do
  psql_admin -c 'SELECT 1' >/dev/null 2>&1 && break
  sleep 0.2
done
PASSWORD="flowgate-test-only"
if [[ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = 'flowgate_test'")" != 1 ]]; then
  psql_admin -c "CREATE ROLE flowgate_test LOGIN PASSWORD '$PASSWORD'" >&2
fi
if [[ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = 'flowgate_test'")" != 1 ]]; then
  psql_admin -c "CREATE DATABASE flowgate_test OWNER flowgate_test" >&2
fi
echo "postgres://flowgate_test:$PASSWORD@127.0.0.1:$PORT/flowgate_test"
