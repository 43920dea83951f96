#!/usr/bin/env bash
# flowgate event benchmarks: commit-to-delivery latency of workflow events on the live
# stream (GET /nuxeo/api/v1/events) and to a signed webhook on loopback, under the
# full-review lifecycle load, and what subscribers cost that load.
#
#   bench/events.sh            about 4 minutes plus the release build
#   bench/events.sh --smoke    a few seconds per phase
#
# The release gateway runs with the shipped development configuration (config/dev.toml:
# redb, fsync per commit), each phase on a fresh data directory under target/bench/events.
# The load is the lifecycle row's: wrk with bench/lifecycle.lua, full reviews spread over
# BENCH_EVENTS_SUBSCRIBERS bench users (user0001, ...; each review started, chosen and
# validated by one of them, its participant). Per round, four phases, each
# BENCH_WARMUP unmeasured then BENCH_EVENTS_DURATION measured:
#   A  the lifecycle alone;
#   S  the same with one SSE stream open per bench user (each sees its own reviews'
#      events, as client apps following their users' inboxes do);
#   B  the same streams and one [[webhooks]] endpoint (every event) posting to a receiver
#      on loopback (bench/src/bin/fg-events.rs records arrival time minus the event's
#      `at`, its commit time);
#   F  as S, but every stream opened as Administrator, so that every event goes to
#      every stream (the worst case; reported, no target).
# Rounds alternate A, S, B and F (BENCH_EVENTS_ROUNDS, default 2). Results: a table on
# stdout and target/bench/events.md; raw outputs in target/bench/events/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT="$ROOT/target/bench/events"
mkdir -p "$OUT"

SMOKE=0
for arg in "$@"; do
  case "$arg" in
    --smoke) SMOKE=1 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done
DUR=${BENCH_EVENTS_DURATION:-15s}
WARMUP=${BENCH_WARMUP:-2s}
CONN=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
SUBS=${BENCH_EVENTS_SUBSCRIBERS:-100}
ROUNDS=${BENCH_EVENTS_ROUNDS:-2}
if [ "$SMOKE" = 1 ]; then DUR=3s; WARMUP=1s; ROUNDS=1; fi
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 2; }

echo "== building release binaries" >&2
cargo build --release -q -p flowgate -p flowgate-bench
BIN="$ROOT/target/release"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# Development credentials of config/dev.toml (password = user name) for the admin API;
# bench users share the password "bench", hashed once.
ADMIN=(-u Administrator:Administrator)
HASH=$(printf 'bench' | "$BIN/flowgate" hash-password | tail -n 1)
LOAD_ARGS=()
for i in $(seq 1 "$SUBS"); do
  u=$(printf 'user%04d' "$i")
  LOAD_ARGS+=("Basic $(printf '%s:bench' "$u" | base64)" "$u")
done

config() { # name webhook_port|"" -> path: config/dev.toml, its own data directory, log warn
  local file="$OUT/$1.toml"
  rm -rf "$OUT/data-$1"
  sed -e "s|^data_dir = .*|data_dir = \"$OUT/data-$1\"|" -e 's|^level = .*|level = "warn"|' \
    config/dev.toml > "$file"
  for i in $(seq 1 "$SUBS"); do
    printf '\n[[auth.users]]\nname = "user%04d"\npassword_hash = "%s"\ngroups = ["members"]\n' "$i" "$HASH"
  done >> "$file"
  if [ -n "$2" ]; then
    # A fresh secret per run (example only, never stored elsewhere).
    printf '\n[[webhooks]]\nname = "bench"\nurl = "http://127.0.0.1:%s/hook"\nallow_plain_http = true\nsecret = "whsec_%s"\n' \
      "$2" "$(head -c 32 /dev/urandom | base64)" >> "$file"
  fi
  echo "$file"
}

start_gateway() { # config port -> GW_PID
  "$BIN/flowgate" serve --config "$1" --bind "127.0.0.1:$2" > "$OUT/gateway-$2.log" 2>&1 &
  GW_PID=$!; PIDS+=("$GW_PID")
  wait_http "http://127.0.0.1:$2/api/v1/doc-not-there-but-any-answer"
}
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

cpu_s() { # pid -> CPU seconds (user + system) so far, 0 without a pid
  [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] || { echo 0; return; }
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat"
}

# "rps p50 p99 reviews_per_s failures gateway_cpu_s clients_cpu_s" (CPU seconds of the
# gateway and of fg-events during the measured run)
lifecycle() { # name port
  local g0 e0 g1 e1
  wrk -t"$THREADS" -c"$CONN" -d"$WARMUP" -s bench/lifecycle.lua "http://127.0.0.1:$2" \
    -- "${LOAD_ARGS[@]}" > /dev/null 2>&1 || true
  if [ -n "${ON_MEASURE:-}" ]; then $ON_MEASURE; fi
  g0=$(cpu_s "$GW_PID"); e0=$(cpu_s "${EV_PID:-}")
  wrk -t"$THREADS" -c"$CONN" -d"$DUR" --latency -s bench/lifecycle.lua "http://127.0.0.1:$2" \
    -- "${LOAD_ARGS[@]}" > "$OUT/$1.wrk" 2>&1
  g1=$(cpu_s "$GW_PID"); e1=$(cpu_s "${EV_PID:-}")
  echo "$(awk '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    / requests in / { dur=$4+0 } /Requests\/sec/ { rps=$2 } /^reviews:/ { n=$2 } /^failures:/ { f=$2 }
    $1=="50%" { p50=ms($2) } $1=="99%" { p99=ms($2) }
    END { printf "%.0f %.3f %.3f %.0f %d", rps, p50, p99, (dur>0?n/dur:0), f }' "$OUT/$1.wrk")" \
    "$(python3 -c "import sys; a=list(map(float, sys.argv[1:])); print(f'{a[1]-a[0]:.2f} {a[3]-a[2]:.2f}')" "$g0" "$g1" "$e0" "$e1")"
}

# Other work on the host takes the same cores: recorded with the figures.
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
declare -a A_ROWS S_ROWS B_ROWS F_ROWS
for r in $(seq 1 "$ROUNDS"); do
  echo "== round $r: A, lifecycle alone" >&2
  P=$(free_port)
  start_gateway "$(config "a$r" "")" "$P"
  EV_PID=""
  A_ROWS+=("$(ON_MEASURE='' lifecycle "a$r" "$P")")
  stop_pid "$GW_PID"

  for phase in s b f; do
    # S: a stream per user (no webhook configured); B: those and the webhook;
    # F: Administrator streams.
    WHO=(--users "$SUBS" --password bench)
    case "$phase" in
      s) echo "== round $r: S, lifecycle with $SUBS SSE streams (one per user)" >&2 ;;
      b) echo "== round $r: B, lifecycle with $SUBS SSE streams (one per user) and one webhook" >&2 ;;
      f) echo "== round $r: F, lifecycle with $SUBS SSE streams as Administrator" >&2
         WHO=(--user Administrator --password Administrator) ;;
    esac
    P=$(free_port); HP=$(free_port); HOOK=()
    [ "$phase" = b ] && HOOK=(--webhook-bind "127.0.0.1:$HP")
    start_gateway "$(config "$phase$r" "$([ "$phase" = b ] && echo "$HP")")" "$P"
    rm -f "$OUT/ready-$phase$r"
    "$BIN/fg-events" --url "http://127.0.0.1:$P/nuxeo/api/v1" --subscribers "$SUBS" "${WHO[@]}" "${HOOK[@]}" \
      --ready-file "$OUT/ready-$phase$r" --drain-secs 20 --max-secs 180 \
      > "$OUT/$phase$r.json" 2> "$OUT/fg-events-$phase$r.err" &
    EV_PID=$!; PIDS+=("$EV_PID")
    for _ in $(seq 1 300); do [ -s "$OUT/ready-$phase$r" ] && break; sleep 0.1; done
    [ -s "$OUT/ready-$phase$r" ] || { echo "fg-events did not get ready" >&2; cat "$OUT/fg-events-$phase$r.err" >&2; exit 1; }
    mark() { kill -USR1 "$EV_PID"; }
    ROW=$(ON_MEASURE=mark lifecycle "$phase$r" "$P")
    kill -USR2 "$EV_PID"
    # Events stored but not yet posted when the load stops, and after the drain.
    curl -s "${ADMIN[@]}" "http://127.0.0.1:$P/nuxeo/api/v1/admin/webhooks" > "$OUT/$phase$r-admin.json" || true
    wait "$EV_PID" || true
    curl -s "${ADMIN[@]}" "http://127.0.0.1:$P/nuxeo/api/v1/admin/webhooks" > "$OUT/$phase$r-admin-after.json" || true
    case "$phase" in s) S_ROWS+=("$ROW") ;; b) B_ROWS+=("$ROW") ;; f) F_ROWS+=("$ROW") ;; esac
    stop_pid "$GW_PID"
  done
done

HOST="load average $LOAD0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end$(
  [ -r /proc/pressure/cpu ] && awk '/^some/ { sub("avg300=", "", $4); printf "; CPU pressure (some, 5 min) %s%%", $4 }' /proc/pressure/cpu)"
python3 - "$OUT" "$SUBS" "$DUR" "$CONN" "$(nproc)" "$HOST" "${A_ROWS[@]}" -- "${S_ROWS[@]}" -- "${B_ROWS[@]}" -- "${F_ROWS[@]}" <<'PY' | tee "$OUT/../events.md"
import json, statistics as st, sys
out, subs, dur, conn, cores, host = sys.argv[1:7]
rest = sys.argv[7:]
i1 = rest.index("--"); i2 = rest.index("--", i1 + 1); i3 = rest.index("--", i2 + 1)
rows = lambda part: [list(map(float, r.split())) for r in part]
a_rows, s_rows = rows(rest[:i1]), rows(rest[i1 + 1:i2])
b_rows, f_rows = rows(rest[i2 + 1:i3]), rows(rest[i3 + 1:])
rounds = len(a_rows)
s_runs = [json.load(open(f"{out}/s{i + 1}.json")) for i in range(rounds)]
f_runs = [json.load(open(f"{out}/f{i + 1}.json")) for i in range(rounds)]
runs = [json.load(open(f"{out}/b{i + 1}.json")) for i in range(rounds)]
def lag(i, suffix):
    try:
        d = json.load(open(f"{out}/b{i + 1}-admin{suffix}.json"))
        return sum(e.get("lag", 0) for e in d["entries"])
    except Exception:
        return "?"
pct = lambda x, a: 100 * x[0] / a[0] if a[0] else 0
ratios = [pct(b, a) for a, b in zip(a_rows, b_rows)]
s_ratios = [pct(s, a) for a, s in zip(a_rows, s_rows)]
f_ratios = [pct(f, a) for a, f in zip(a_rows, f_rows)]
ratio = st.median(ratios)
sse_p99 = max(r["sse"]["p99_ms"] for r in runs)
def row(m, v, p50="", p99="", note=""):
    print(f"| {m:<52} | {v:>10} | {p50:>9} | {p99:>9} | {note}")
print(f"flowgate event benchmark: {cores} cores shared by wrk, the gateway, {subs} SSE clients and the webhook receiver; "
      f"config/dev.toml (redb, fsync) + {subs} bench users, wrk -c{conn} + bench/lifecycle.lua (reviews spread over the users), "
      f"{dur} measured per phase, {rounds} round(s) A/S/B/F; S and B: one stream per user, F: Administrator streams")
print(f"host: {host}")
print()
print("| measurement                                          | value      | p50 ms    | p99 ms    | note")
print("|------------------------------------------------------|------------|-----------|-----------|-----")
def sse_row(label, r):
    s = r["sse"]
    row(label, s["count"], f"{s['p50_ms']:.2f}", f"{s['p99_ms']:.2f}",
        f"max {s['max_ms']:.1f} ms; {r['streams_open']} streams, {r['streams_ended_early']} ended early; "
        f"{r['events_per_stream_min']}..{r['events_per_stream_max']} events per stream")
for i, (a, s_, b, r) in enumerate(zip(a_rows, s_rows, b_rows, runs)):
    row(f"round {i+1} A: lifecycle alone (req/s)", f"{a[0]:.0f}", f"{a[1]:.2f}", f"{a[2]:.2f}", f"{a[3]:.0f} reviews/s, {a[4]:.0f} failed; CPU s: gateway {a[5]:.1f}")
    row(f"round {i+1} S: with {subs} SSE, no webhook (req/s)", f"{s_[0]:.0f}", f"{s_[1]:.2f}", f"{s_[2]:.2f}",
        f"{s_[3]:.0f} reviews/s, {s_[4]:.0f} failed; {s_ratios[i]:.1f}% of A; CPU s: gateway {s_[5]:.1f}, SSE clients {s_[6]:.1f}")
    sse_row(f"round {i+1} S: SSE commit-to-delivery (events x streams)", s_runs[i])
    row(f"round {i+1} B: with {subs} SSE + 1 webhook (req/s)", f"{b[0]:.0f}", f"{b[1]:.2f}", f"{b[2]:.2f}",
        f"{b[3]:.0f} reviews/s, {b[4]:.0f} failed; {ratios[i]:.1f}% of A; CPU s: gateway {b[5]:.1f}, SSE clients + receiver {b[6]:.1f}")
    w = r["webhook"]
    sse_row(f"round {i+1} B: SSE commit-to-delivery (events x streams)", r)
    row(f"round {i+1} B: webhook commit-to-delivery (events)", w["count"], f"{w['p50_ms']:.2f}", f"{w['p99_ms']:.2f}",
        f"max {w['max_ms']:.1f} ms; lag at load end {lag(i, '')}, after drain {lag(i, '-after')}; "
        f"duplicates {w['duplicates']}; drained {w['drain_ms']} ms")
    f = f_rows[i]
    row(f"round {i+1} F: with {subs} Administrator SSE (req/s)", f"{f[0]:.0f}", f"{f[1]:.2f}", f"{f[2]:.2f}",
        f"{f[3]:.0f} reviews/s, {f[4]:.0f} failed; {f_ratios[i]:.1f}% of A; CPU s: gateway {f[5]:.1f}, SSE clients {f[6]:.1f}")
    sse_row(f"round {i+1} F: SSE commit-to-delivery (events x streams)", f_runs[i])
row("target: SSE p99 <= 50 ms (worst B round)", "", "", f"{sse_p99:.2f}", "MET" if sse_p99 <= 50 else "MISSED")
row("target: B >= 90% of A (median of rounds)", f"{ratio:.1f}%", "", "",
    ("MET" if ratio >= 90 else "MISSED") + " (rounds " + "/".join(f"{x:.0f}" for x in ratios) + ")")
PY
