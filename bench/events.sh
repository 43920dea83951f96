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
# validated by one of them, its participant). Per round these phases, each
# BENCH_WARMUP unmeasured then BENCH_EVENTS_DURATION measured:
#   A  the lifecycle alone;
#   S  the same with one SSE stream open per bench user (each sees its own reviews'
#      events, as client apps following their users' inboxes do);
#   B  the same streams and one [[webhooks]] endpoint (every event) posting to a receiver
#      on loopback (bench/src/bin/fg-events.rs records arrival time minus the event's
#      `at`, its commit time);
#   A2 the lifecycle alone again: S and B are compared with the mean of A and A2, so
#      that the host's drift between the phases does not count as their cost;
#   F  as S, but every stream opened as Administrator, so that every event goes to
#      every stream (the worst case; reported, no target; compared with A2).
# Then the same reviews from the second load generator, fg-load (bench/src/bin/fg-load.rs,
# reqwest clients, each review one client's sequence of five requests):
#   G  fg-load alone, as fast as BENCH_CONNECTIONS clients go;
#   H  fg-load with the streams of S and the webhook of B;
#   G2 fg-load alone again (H is compared with the mean of G and G2);
#   L  as H, but fg-load starting reviews at a fixed share of G's rate, one phase per
#      share in BENCH_EVENTS_LEVELS (percent, default "25 50 75"): latency below
#      saturation. (G's rate is reached with the gateway's batching at its most
#      effective, so half of it keeps the gateway busier than half the time.)
# Rounds run A, S, B, A2, F, G, H, G2, then L per level (BENCH_EVENTS_ROUNDS, default 2). Results: a table on
# stdout and target/bench/events.md; raw outputs in target/bench/events/.
#
# Layout (BENCH_EVENTS_LAYOUT; default `hosts` as root, else `split`): `split` runs the
# gateway on the first core and everything else (load generators, the stream clients,
# the webhook receiver) on the others, as a gateway and its clients on separate machines
# are; `shared` lets every process run on every core, so the clients' own work is taken
# from the gateway's throughput as well; `hosts` (root, iproute2) is `split` with the
# gateway and the clients on two network namespaces of their own joined by a veth pair,
# each side's receive processing steered to its own cores (RPS): on loopback the kernel
# runs the receiving socket's TCP path on the sender's core, so in `split` the gateway's
# core also does the clients' receive work, which on separate machines is theirs.
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
LEVELS=${BENCH_EVENTS_LEVELS:-25 50 75}
ROUNDS=${BENCH_EVENTS_ROUNDS:-2}
if [ "$SMOKE" = 1 ]; then DUR=3s; WARMUP=1s; ROUNDS=1; fi
CORES=$(nproc)
default_layout() {
  if [ "$CORES" -lt 2 ]; then echo shared
  elif [ "$(id -u)" = 0 ] && command -v ip >/dev/null; then echo hosts
  else echo split
  fi
}
LAYOUT=${BENCH_EVENTS_LAYOUT:-$(default_layout)}
case "$LAYOUT" in
  split)
    [ "$CORES" -ge 2 ] || { echo "the split layout needs two cores" >&2; exit 2; }
    command -v taskset >/dev/null || { echo "taskset is needed: apt-get install util-linux" >&2; exit 2; }
    ON_GATEWAY=(taskset -c 0); ON_CLIENTS=(taskset -c "1-$((CORES - 1))") ;;
  shared) ON_GATEWAY=(); ON_CLIENTS=() ;;
  hosts)
    [ "$CORES" -ge 2 ] || { echo "the hosts layout needs two cores" >&2; exit 2; }
    [ "$(id -u)" = 0 ] && command -v ip >/dev/null && command -v taskset >/dev/null ||
      { echo "the hosts layout needs root, ip (iproute2) and taskset" >&2; exit 2; } ;;
  *) echo "BENCH_EVENTS_LAYOUT is split, shared or hosts, not $LAYOUT" >&2; exit 2 ;;
esac
# Where the gateway listens and where the webhook receiver listens, as seen by the other.
GW_HOST=127.0.0.1; CL_HOST=127.0.0.1; IN_CLIENTS=()
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 2; }

echo "== building release binaries" >&2
cargo build --release -q -p flowgate -p flowgate-bench
BIN="$ROOT/target/release"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

PIDS=()
NETNS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for n in "${NETNS[@]:-}"; do [ -n "$n" ] && ip netns del "$n" 2>/dev/null || true; done
}
trap cleanup EXIT

# hosts layout: two namespaces, one veth pair (10.77.0.1 gateway, 10.77.0.2 clients).
# A packet is received on the core its receiving side's rps_cpus names: the gateway's
# requests and acknowledgements on core 0, the clients' responses, stream messages and
# webhook posts on the others, as on two machines.
if [ "$LAYOUT" = hosts ]; then
  GW_NS="fgb$$g"; CL_NS="fgb$$c"
  ip netns add "$GW_NS"; NETNS+=("$GW_NS")
  ip netns add "$CL_NS"; NETNS+=("$CL_NS")
  ip link add "$GW_NS" netns "$GW_NS" type veth peer name "$CL_NS" netns "$CL_NS"
  ip -n "$GW_NS" addr add 10.77.0.1/24 dev "$GW_NS"
  ip -n "$CL_NS" addr add 10.77.0.2/24 dev "$CL_NS"
  for n in "$GW_NS" "$CL_NS"; do ip -n "$n" link set lo up; ip -n "$n" link set "$n" up; done
  ip netns exec "$GW_NS" sh -c "echo 1 > /sys/class/net/$GW_NS/queues/rx-0/rps_cpus"
  ip netns exec "$CL_NS" sh -c "printf '%x' $(( (1 << CORES) - 2 )) > /sys/class/net/$CL_NS/queues/rx-0/rps_cpus"
  # The gateway listens on 10.77.0.1, reachable only from the clients' namespace: the
  # development users of config/dev.toml are accepted there on purpose.
  ON_GATEWAY=(ip netns exec "$GW_NS" env FLOWGATE__AUTH__ALLOW_INSECURE_DEV_USERS=true taskset -c 0)
  ON_CLIENTS=(ip netns exec "$CL_NS" taskset -c "1-$((CORES - 1))")
  IN_CLIENTS=(ip netns exec "$CL_NS")
  GW_HOST=10.77.0.1; CL_HOST=10.77.0.2
fi

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
    printf '\n[[webhooks]]\nname = "bench"\nurl = "http://%s:%s/hook"\nallow_plain_http = true\nsecret = "whsec_%s"\n' \
      "$CL_HOST" "$2" "$(head -c 32 /dev/urandom | base64)" >> "$file"
  fi
  echo "$file"
}

start_gateway() { # config port -> GW_PID
  "${ON_GATEWAY[@]}" "$BIN/flowgate" serve --config "$1" --bind "$GW_HOST:$2" > "$OUT/gateway-$2.log" 2>&1 &
  GW_PID=$!; PIDS+=("$GW_PID")
  "${IN_CLIENTS[@]}" bash -c ". bench/lib.sh; wait_http http://$GW_HOST:$2/api/v1/doc-not-there-but-any-answer"
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
  "${ON_CLIENTS[@]}" wrk -t"$THREADS" -c"$CONN" -d"$WARMUP" -s bench/lifecycle.lua "http://$GW_HOST:$2" \
    -- "${LOAD_ARGS[@]}" > /dev/null 2>&1 || true
  if [ -n "${ON_MEASURE:-}" ]; then $ON_MEASURE; fi
  g0=$(cpu_s "$GW_PID"); e0=$(cpu_s "${EV_PID:-}")
  "${ON_CLIENTS[@]}" wrk -t"$THREADS" -c"$CONN" -d"$DUR" --latency -s bench/lifecycle.lua "http://$GW_HOST:$2" \
    -- "${LOAD_ARGS[@]}" > "$OUT/$1.wrk" 2>&1
  g1=$(cpu_s "$GW_PID"); e1=$(cpu_s "${EV_PID:-}")
  echo "$(awk '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    / requests in / { dur=$4+0 } /Requests\/sec/ { rps=$2 } /^reviews:/ { n=$2 } /^failures:/ { f=$2 }
    $1=="50%" { p50=ms($2) } $1=="99%" { p99=ms($2) }
    END { printf "%.0f %.3f %.3f %.0f %d", rps, p50, p99, (dur>0?n/dur:0), f }' "$OUT/$1.wrk")" \
    "$(python3 -c "import sys; a=list(map(float, sys.argv[1:])); print(f'{a[1]-a[0]:.2f} {a[3]-a[2]:.2f}')" "$g0" "$g1" "$e0" "$e1")"
}

# fg-load reviews for the measured duration: "rps 0 0 reviews_per_s failures gateway_cpu_s
# clients_cpu_s" (fg-load reports no request latency).
drive() { # name port rate(0: as fast as possible)
  local g0 e0 g1 e1 secs=${DUR%s} warm=${WARMUP%s}
  "${ON_CLIENTS[@]}" "$BIN/fg-load" --url "http://$GW_HOST:$2/api/v1" --password bench --users "$SUBS" \
    --concurrency "$CONN" drive --workflows 100000000 --seconds "$warm" > /dev/null 2>&1 || true
  if [ -n "${ON_MEASURE:-}" ]; then $ON_MEASURE; fi
  g0=$(cpu_s "$GW_PID"); e0=$(cpu_s "${EV_PID:-}")
  "${ON_CLIENTS[@]}" "$BIN/fg-load" --url "http://$GW_HOST:$2/api/v1" --password bench --users "$SUBS" \
    --concurrency "$CONN" drive --workflows 100000000 --seconds "$secs" --rate "$3" \
    > "$OUT/$1.drive.json" 2> "$OUT/$1.drive.err" || true
  g1=$(cpu_s "$GW_PID"); e1=$(cpu_s "${EV_PID:-}")
  python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
a = list(map(float, sys.argv[2:]))
rps, rev, err = d["requests_per_second"], d["reviews_per_second"], d["errors"]
print(f"{rps:.0f} 0 0 {rev:.0f} {err} {a[1]-a[0]:.2f} {a[3]-a[2]:.2f}")
' "$OUT/$1.drive.json" "$g0" "$g1" "$e0" "$e1"
}

# One phase with subscribers: s, b, f (wrk) or h, l<level> (fg-load); $3 is the load
# function, $4 the fg-load rate. Adds its row to S_ROWS, B_ROWS, F_ROWS, H_ROWS or
# L_ROWS (there as "<level>:<row>").
with_subscribers() { # phase round load [rate]
  local phase=$1 r=$2 load=$3 rate=${4:-} hooked=""
  # A stream per user; B, H and L also the webhook; F: Administrator streams.
  WHO=(--users "$SUBS" --password bench)
  case "$phase" in
    s) echo "== round $r: S, lifecycle with $SUBS SSE streams (one per user)" >&2 ;;
    b) echo "== round $r: B, lifecycle with $SUBS SSE streams (one per user) and one webhook" >&2 ;;
    f) echo "== round $r: F, lifecycle with $SUBS SSE streams as Administrator" >&2
       WHO=(--user Administrator --password Administrator) ;;
    h) echo "== round $r: H, fg-load with $SUBS SSE streams and one webhook" >&2 ;;
    l*) echo "== round $r: L, fg-load at ${phase#l}% of G ($rate reviews/s) with $SUBS SSE streams and one webhook" >&2 ;;
  esac
  P=$(free_port); HP=$(free_port); HOOK=()
  case "$phase" in b|h|l*) HOOK=(--webhook-bind "$CL_HOST:$HP"); hooked=$HP ;; esac
  start_gateway "$(config "$phase$r" "$hooked")" "$P"
  rm -f "$OUT/ready-$phase$r"
  "${ON_CLIENTS[@]}" "$BIN/fg-events" --url "http://$GW_HOST:$P/nuxeo/api/v1" --subscribers "$SUBS" "${WHO[@]}" "${HOOK[@]}" \
    --ready-file "$OUT/ready-$phase$r" --drain-secs 20 --max-secs 180 \
    > "$OUT/$phase$r.json" 2> "$OUT/fg-events-$phase$r.err" &
  EV_PID=$!; PIDS+=("$EV_PID")
  for _ in $(seq 1 300); do [ -s "$OUT/ready-$phase$r" ] && break; sleep 0.1; done
  [ -s "$OUT/ready-$phase$r" ] || { echo "fg-events did not get ready" >&2; cat "$OUT/fg-events-$phase$r.err" >&2; exit 1; }
  mark() { kill -USR1 "$EV_PID"; }
  ROW=$(ON_MEASURE=mark "$load" "$phase$r" "$P" $rate)
  kill -USR2 "$EV_PID"
  # Events stored but not yet posted when the load stops, and after the drain.
  "${IN_CLIENTS[@]}" curl -s "${ADMIN[@]}" "http://$GW_HOST:$P/nuxeo/api/v1/admin/webhooks" > "$OUT/$phase$r-admin.json" || true
  wait "$EV_PID" || true
  "${IN_CLIENTS[@]}" curl -s "${ADMIN[@]}" "http://$GW_HOST:$P/nuxeo/api/v1/admin/webhooks" > "$OUT/$phase$r-admin-after.json" || true
  case "$phase" in
    s) S_ROWS+=("$ROW") ;; b) B_ROWS+=("$ROW") ;; f) F_ROWS+=("$ROW") ;;
    h) H_ROWS+=("$ROW") ;; l*) L_ROWS+=("${phase#l}:$ROW") ;;
  esac
  stop_pid "$GW_PID"
}

# Other work on the host takes the same cores: recorded with the figures.
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
declare -a A_ROWS A2_ROWS S_ROWS B_ROWS F_ROWS G_ROWS G2_ROWS H_ROWS L_ROWS
# One phase without subscribers: a fresh gateway, the load alone.
alone() { # name load rate
  local P
  P=$(free_port)
  start_gateway "$(config "$1" "")" "$P"
  EV_PID=""
  ON_MEASURE='' "$2" "$1" "$P" ${3:-}
  stop_pid "$GW_PID"
}

for r in $(seq 1 "$ROUNDS"); do
  # The alone phases bracket the phases with subscribers (A before S and B, A2 after;
  # G before H, G2 after): their mean is the baseline, so that the host's drift over
  # the minute between them does not count as the subscribers' cost.
  echo "== round $r: A, lifecycle alone" >&2
  A_ROWS+=("$(alone "a$r" lifecycle)")
  for phase in s b; do
    with_subscribers "$phase" "$r" lifecycle
  done
  echo "== round $r: A2, lifecycle alone again" >&2
  A2_ROWS+=("$(alone "a2-$r" lifecycle)")
  with_subscribers f "$r" lifecycle

  echo "== round $r: G, fg-load alone" >&2
  G_ROW=$(alone "g$r" drive 0)
  G_ROWS+=("$G_ROW")
  with_subscribers h "$r" drive 0
  echo "== round $r: G2, fg-load alone again" >&2
  G2_ROWS+=("$(alone "g2-$r" drive 0)")
  for level in $LEVELS; do
    RATE=$(awk -v r="$(echo "$G_ROW" | cut -d' ' -f4)" -v l="$level" 'BEGIN { printf "%.1f", r * l / 100 }')
    with_subscribers "l$level" "$r" drive "$RATE"
  done
done

case "$LAYOUT" in
  split) WHERE=" (gateway on core 0, every client on the others)" ;;
  hosts) WHERE=" (gateway on core 0, every client on the others, each in its own network namespace, receive processing on the receiver's cores)" ;;
  *) WHERE="" ;;
esac
HOST="layout $LAYOUT$WHERE; load average $LOAD0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end$(
  [ -r /proc/pressure/cpu ] && awk '/^some/ { sub("avg300=", "", $4); printf "; CPU pressure (some, 5 min) %s%%", $4 }' /proc/pressure/cpu)"
python3 - "$OUT" "$SUBS" "$DUR" "$CONN" "$(nproc)" "$HOST" "${A_ROWS[@]}" -- "${S_ROWS[@]}" -- "${B_ROWS[@]}" -- "${F_ROWS[@]}" -- "${G_ROWS[@]}" -- "${H_ROWS[@]}" -- "${L_ROWS[@]}" -- "${A2_ROWS[@]}" -- "${G2_ROWS[@]}" <<'PY' | tee "$OUT/../events.md"
import json, statistics as st, sys
out, subs, dur, conn, cores, host = sys.argv[1:7]
parts, cur = [], []
for a in sys.argv[7:]:
    if a == "--":
        parts.append(cur); cur = []
    else:
        cur.append(a)
parts.append(cur)
A, S, B, F, G, H = ([list(map(float, r.split())) for r in p] for p in parts[:6])
L = [(int(r.split(":")[0]), list(map(float, r.split(":")[1].split()))) for r in parts[6]]
A2, G2 = ([list(map(float, r.split())) for r in p] for p in parts[7:9])
# The baselines: the mean of the two alone phases around the phases with subscribers.
both = lambda x, y: [(u + v) / 2 for u, v in zip(x, y)]
AB = [both(a, a2) for a, a2 in zip(A, A2)]
GB = [both(g, g2) for g, g2 in zip(G, G2)]
rounds = len(A)
levels = sorted({lv for lv, _ in L})
run = lambda ph, i: json.load(open(f"{out}/{ph}{i + 1}.json"))
def lag(ph, i, suffix):
    try:
        d = json.load(open(f"{out}/{ph}{i + 1}-admin{suffix}.json"))
        return sum(e.get("lag", 0) for e in d["entries"])
    except Exception:
        return "?"
pct = lambda x, a: 100 * x[0] / a[0] if a[0] else 0
def row(m, v, p50="", p99="", note=""):
    print(f"| {m:<56} | {v:>10} | {p50:>9} | {p99:>9} | {note}")
print(f"flowgate event benchmark: {cores} cores for the load generator, the gateway, {subs} SSE clients and the webhook receiver; "
      f"config/dev.toml (redb, fsync) + {subs} bench users; wrk -c{conn} + bench/lifecycle.lua, and fg-load with {conn} clients "
      f"(reviews spread over the users); {dur} measured per phase, {rounds} round(s). "
      f"S, B, H, L: one stream per user; F: Administrator streams; B, H, L: one webhook for every event")
print(f"host: {host}")
print()
print("| measurement                                              | value      | p50 ms    | p99 ms    | note")
print("|----------------------------------------------------------|------------|-----------|-----------|-----")
def load_row(label, x, base, extra):
    share = f"{pct(x, base):.1f}% of alone; " if base else ""
    lat = (f"{x[1]:.2f}", f"{x[2]:.2f}") if x[1] else ("", "")
    row(label, f"{x[0]:.0f}", *lat, f"{x[3]:.0f} reviews/s, {x[4]:.0f} failed; {share}CPU s: gateway {x[5]:.1f}{extra(x)}")
def sse_row(label, r):
    s = r["sse"]
    row(label, s["count"], f"{s['p50_ms']:.2f}", f"{s['p99_ms']:.2f}",
        f"max {s['max_ms']:.1f} ms; {r['streams_open']} streams, {r['streams_ended_early']} ended early; "
        f"{r['events_per_stream_min']}..{r['events_per_stream_max']} events per stream")
def hook_row(label, ph, i):
    w = run(ph, i)["webhook"]
    row(label, w["count"], f"{w['p50_ms']:.2f}", f"{w['p99_ms']:.2f}",
        f"max {w['max_ms']:.1f} ms; lag at load end {lag(ph, i, '')}, after drain {lag(ph, i, '-after')}; "
        f"duplicates {w['duplicates']}; drained {w['drain_ms']} ms")
clients = lambda x: f", clients {x[6]:.1f}"
for i in range(rounds):
    n = f"round {i + 1}"
    load_row(f"{n} A: wrk lifecycle alone (req/s)", A[i], None, lambda x: "")
    load_row(f"{n} A2: wrk lifecycle alone again (req/s)", A2[i], None, lambda x: "")
    load_row(f"{n} S: wrk + {subs} SSE (req/s)", S[i], AB[i], clients)
    sse_row(f"{n} S: SSE commit-to-delivery (events x streams)", run("s", i))
    load_row(f"{n} B: wrk + {subs} SSE + webhook (req/s)", B[i], AB[i], clients)
    sse_row(f"{n} B: SSE commit-to-delivery (events x streams)", run("b", i))
    hook_row(f"{n} B: webhook commit-to-delivery (events)", "b", i)
    load_row(f"{n} F: wrk + {subs} Administrator SSE (req/s)", F[i], A2[i], clients)
    sse_row(f"{n} F: SSE commit-to-delivery (events x streams)", run("f", i))
    load_row(f"{n} G: fg-load alone (req/s)", G[i], None, lambda x: "")
    load_row(f"{n} G2: fg-load alone again (req/s)", G2[i], None, lambda x: "")
    load_row(f"{n} H: fg-load + {subs} SSE + webhook (req/s)", H[i], GB[i], clients)
    sse_row(f"{n} H: SSE commit-to-delivery (events x streams)", run("h", i))
    hook_row(f"{n} H: webhook commit-to-delivery (events)", "h", i)
    for lv, x in L[i * len(levels):(i + 1) * len(levels)]:
        load_row(f"{n} L{lv}: fg-load at {lv}% of G's rate + SSE + webhook", x, None, clients)
        sse_row(f"{n} L{lv}: SSE commit-to-delivery (events x streams)", run(f"l{lv}", i))
        hook_row(f"{n} L{lv}: webhook commit-to-delivery (events)", f"l{lv}", i)
verdict = lambda ok: "MET" if ok else "MISSED"
for lv in levels:
    worst = max(run(f"l{lv}", i)["sse"]["p99_ms"] for i in range(rounds))
    row(f"target: SSE p99 <= 50 ms at {lv}% of G's rate (worst round)", "", "", f"{worst:.2f}", verdict(worst <= 50))
sat = max(max(run(p, i)["sse"]["p99_ms"] for i in range(rounds)) for p in ("b", "h"))
row("target: SSE p99 <= 50 ms, saturated (worst B/H round)", "", "", f"{sat:.2f}", verdict(sat <= 50))
wrk_r = [pct(b, a) for a, b in zip(AB, B)]
fg_r = [pct(h, g) for g, h in zip(GB, H)]
for label, rs in (("wrk: B", wrk_r), ("fg-load: H", fg_r)):
    m = st.median(rs)
    row(f"target: {label} >= 90% of alone (median of rounds)", f"{m:.1f}%", "", "",
        verdict(m >= 90) + " (rounds " + "/".join(f"{x:.0f}" for x in rs) + ")")
# The same against the first alone phase only (the baseline before the brackets).
for label, xs, bases in (("wrk: B", B, A), ("fg-load: H", H, G)):
    rs = [pct(x, b) for x, b in zip(xs, bases)]
    row(f"{label} against the first alone phase only (median)", f"{st.median(rs):.1f}%", "", "",
        "rounds " + "/".join(f"{x:.0f}" for x in rs))
PY
