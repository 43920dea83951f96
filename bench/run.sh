#!/usr/bin/env bash
# flowgate load benchmarks. Every run is bounded in time and cleans up after itself.
#
#   bench/run.sh            full run (about 13 minutes plus the release build)
#   bench/run.sh --smoke    a few seconds per step, to check the suite still works
#   bench/run.sh [--smoke] --adapters   only the Alfresco / CQ adapter rows
#
# Knobs (environment): BENCH_DURATION (wrk duration, default 10s; each measured wrk run
# follows an unmeasured one of BENCH_WARMUP, default 2s), BENCH_ROUNDS (rounds of the
# rows compared with a reference measured alongside, default 5), BENCH_CONNECTIONS
# (default 64), BENCH_THREADS (wrk threads, default 2), BENCH_TASKS (stored tasks,
# default 100000), BENCH_USERS (default 1000), BENCH_SCHED_POLICY (`normal`, the
# default: ordinary tasks; `batch`: every process of the run as SCHED_BATCH; `clients`:
# only wrk and fg-load as SCHED_BATCH; see below).
# Results: a table on stdout and target/bench/results.md; raw outputs in target/bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT="$ROOT/target/bench"
mkdir -p "$OUT"

SMOKE=0
ADAPTERS_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --smoke) SMOKE=1 ;;
    --adapters) ADAPTERS_ONLY=1 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done
DUR=${BENCH_DURATION:-10s}
CONN=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
TASKS=${BENCH_TASKS:-100000}
USERS=${BENCH_USERS:-1000}
DRIVE=${BENCH_DRIVE_WORKFLOWS:-4000}
CDUR=${BENCH_COMPLETE_DURATION:-2s}
WARMUP=${BENCH_WARMUP:-2s}
ROUNDS=${BENCH_ROUNDS:-5}
if [ "$SMOKE" = 1 ]; then
  DUR=2s; CDUR=1s; WARMUP=1s; CONN=8; TASKS=6000; USERS=20; DRIVE=100; ROUNDS=1
fi
PER_USER=$((TASKS / USERS))
# The durable store holds as many tasks as the large memory store, so that the timed
# completion run never runs out of tasks.
DURABLE_PER_USER=$PER_USER
SMALL_USERS=$((1000 / PER_USER)); [ "$SMALL_USERS" -lt 1 ] && SMALL_USERS=1

if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  else
    echo "wrk is needed: apt-get install wrk" >&2; exit 2
  fi
fi

# Everything here shares two cores: wrk, the gateway, the simulators, the baseline. As
# ordinary tasks (the default), each response wakes a thread that may preempt whichever
# thread runs on that core, in the middle of its batch of ready connections; separate
# machines never do that to each other, and it costs the heavier process of a pair more.
# BENCH_SCHED_POLICY=batch runs every process of the run as SCHED_BATCH instead (fair
# share of the CPU, preemption only at the scheduler tick), to see how much of a ratio
# is that effect; BENCH_SCHED_POLICY=clients does so for the load generators only (wrk,
# fg-load), so that they stop preempting the servers while every server (gateway,
# baseline, simulators) stays an ordinary task. docs/performance.md compares the three.
# The targets are read in the default policy.
POLICY=${BENCH_SCHED_POLICY:-normal}
BATCH=()
case "$POLICY" in
  batch|clients)
    if command -v chrt >/dev/null && chrt -b 0 true 2>/dev/null; then BATCH=(chrt -b 0)
    else echo "chrt cannot set SCHED_BATCH here; running as ordinary tasks" >&2; POLICY=normal; fi ;;
  normal) ;;
  *) echo "BENCH_SCHED_POLICY must be normal, batch or clients" >&2; exit 2 ;;
esac
# RUN wraps the servers, LOAD the load generators.
RUN=(); LOAD=("${BATCH[@]}")
[ "$POLICY" = batch ] && RUN=("${BATCH[@]}")
WRK=("${LOAD[@]}" wrk)

echo "== building release binaries"
cargo build --release -q -p flowgate -p flowgate-bench
cargo build --release -q -p flowgate-alfresco --features sim --bin flowgate-alfresco-sim
cargo build --release -q -p flowgate-cq --features sim --bin flowgate-cq-sim
BIN="$ROOT/target/release"

PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

wait_http() { # url
  for _ in $(seq 1 200); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.05
  done
  echo "server at $1 did not come up" >&2; return 1
}

# Bench users share one password; hashing it once keeps config generation fast.
HASH=$(printf 'bench' | "$BIN/flowgate" hash-password | tail -n 1)
AUTH="Authorization: Basic $(printf 'user0001:bench' | base64)"

gateway_config() { # users durability-extra -> path
  local users=$1 file="$OUT/gateway-$1.toml"
  {
    echo '[log]'; echo 'level = "warn"'
    echo '[engines.local]'; echo 'kind = "memory"'; echo 'default = true'
    for i in $(seq 1 "$users"); do
      printf '[[auth.users]]\nname = "user%04d"\npassword_hash = "%s"\ngroups = ["members"]\n' "$i" "$HASH"
    done
  } > "$file"
  echo "$file"
}

start_gateway() { # config port -> sets GW_PID
  "${RUN[@]}" "$BIN/flowgate" serve --config "$1" --bind "127.0.0.1:$2" > "$OUT/gateway-$2.log" 2>&1 &
  GW_PID=$!; PIDS+=("$GW_PID")
  wait_http "http://127.0.0.1:$2/api/v1/doc-not-there-but-any-answer"
}

# wrk summary as "rps p50_ms p99_ms"
wrk_run() { # name url
  local name=$1 url=$2
  # A short unmeasured run first, with the same load: a server that has just been
  # seeded (or just started) spends its first moments returning memory, filling
  # caches and pools, which is not its steady state.
  "${WRK[@]}" -t"$THREADS" -c"$CONN" -d"$WARMUP" -H "$AUTH" "$url" > /dev/null 2>&1 || true
  "${WRK[@]}" -t"$THREADS" -c"$CONN" -d"$DUR" --latency -H "$AUTH" "$url" > "$OUT/$name.wrk" 2>&1
  awk '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    /Requests\/sec/ { rps=$2 }
    $1=="50%" { p50=ms($2) } $1=="99%" { p99=ms($2) }
    /Non-2xx/ { bad=$NF }
    END { printf "%.0f %.3f %.3f %s\n", rps, p50, p99, (bad==""?0:bad) }' "$OUT/$name.wrk"
}

# A measurement and its reference (the stack baseline, a simulator hit directly, the
# small store's list page),
# alternated for $ROUNDS rounds under the same load, so that both see the same machine:
# on shared cores the speed drifts by a quarter within minutes, which a reference
# measured once, minutes earlier, would turn into the result. Prints
# "ref_rps ref_p50 ref_p99 rps p50 p99 non2xx ratios": medians over the rounds (non2xx:
# the most non-2xx answers either side had in a round), and the
# per-round throughput ratios in percent, joined by "/". The reported ratio is the
# median of those.
paired() { # ref_name ref_url ref_auth name url auth
  local i a b rows=()
  for i in $(seq 1 "$ROUNDS"); do
    AUTH=$3 a=$(wrk_run "$1-$i" "$2")
    AUTH=$6 b=$(wrk_run "$4-$i" "$5")
    rows+=("$a $b")
  done
  printf '%s\n' "${rows[@]}" | python3 -c '
import statistics as st, sys
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
med = lambda i: st.median(r[i] for r in rows)
ratios = [100 * r[4] / r[0] if r[0] else 0 for r in rows]
print(f"{med(0):.0f} {med(1):.3f} {med(2):.3f} {med(4):.0f} {med(5):.3f} {med(6):.3f} {max(max(r[3], r[7]) for r in rows):.0f}",
      "/".join(f"{x:.0f}" for x in ratios), f"{st.median(ratios):.1f}")'
}

# The same at one connection: latency without queueing ("p50 p99"). This is the added
# latency an adapter's target is read from. With 64 closed-loop connections every side
# runs saturated and its median is queueing, about connections / rate (Little's law), so
# the difference of the two medians there only restates the throughput ratio (with a
# direct rate of 50k req/s, +1 ms at 64 connections is 56 % of it); it is printed too.
wrk_c1() { # name url [auth]
  local c=$CONN t=$THREADS r
  CONN=1; THREADS=1; AUTH=${3:-$AUTH}
  r=$(wrk_run "$1" "$2")
  CONN=$c; THREADS=$t
  echo "$r"
}

rss_mb() { awk '/VmRSS/ { printf "%.1f", $2/1024 }' "/proc/$1/status"; }

declare -A R
row() { printf '| %-44s | %12s | %9s | %9s | %s\n' "$1" "$2" "$3" "$4" "$5" | tee -a "$OUT/results.md"; }

if [ "$ADAPTERS_ONLY" = 0 ]; then
echo "== stack baseline (bare actix-web, fixed ~1 KB task body)"
BP=$(free_port)
"${RUN[@]}" "$BIN/stack-baseline" --bind "127.0.0.1:$BP" > "$OUT/baseline.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$BP/"

echo "== gateway with $((SMALL_USERS * PER_USER)) stored tasks ($SMALL_USERS users x $PER_USER)"
P1=$(free_port)
start_gateway "$(gateway_config "$SMALL_USERS")" "$P1"
"${LOAD[@]}" "$BIN/fg-load" --url "http://127.0.0.1:$P1/api/v1" --password bench --users "$SMALL_USERS" \
  seed --per-user "$PER_USER" > "$OUT/seed-small.json"
Q="task?userId=user0001&isPaginated=true&pageSize=20"
# Kept running: its list page is the reference of the large store's, measured in turns.
SMALL_PID=$GW_PID

echo "== gateway with $TASKS stored tasks ($USERS users x $PER_USER)"
P2=$(free_port)
start_gateway "$(gateway_config "$USERS")" "$P2"
RSS0=$(rss_mb "$GW_PID")
"${LOAD[@]}" "$BIN/fg-load" --url "http://127.0.0.1:$P2/api/v1" --password bench --users "$USERS" \
  seed --per-user "$PER_USER" > "$OUT/seed-large.json"
RSS1=$(rss_mb "$GW_PID")
TASK_ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sample_task"])' "$OUT/seed-large.json")
SEED_RATE=$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["per_second"]))' "$OUT/seed-large.json")
echo "== GET /task/{id} and the stack baseline, alternated ($ROUNDS rounds)"
read -r B_RPS B_P50 B_P99 G_RPS G_P50 G_P99 G_BAD G_ROUNDS G_PCT < <(paired \
  baseline "http://127.0.0.1:$BP/api/v1/task/x" "$AUTH" \
  get-task "http://127.0.0.1:$P2/api/v1/task/$TASK_ID" "$AUTH")
echo "== GET /task?userId= page, small and large store, alternated ($ROUNDS rounds)"
read -r S_RPS S_P50 S_P99 L_RPS L_P50 L_P99 L_BAD L_ROUNDS L_PCT < <(paired \
  list-small "http://127.0.0.1:$P1/api/v1/$Q" "$AUTH" \
  list-large "http://127.0.0.1:$P2/api/v1/$Q" "$AUTH")
kill "$SMALL_PID"; wait "$SMALL_PID" 2>/dev/null || true
echo "== task completions with wrk (cancel button of each stored first task), memory mode"
complete_run() { # name port -> "completions_per_s p50 p99 exhausted"
  "${LOAD[@]}" "$BIN/fg-load" --url "http://127.0.0.1:$2/api/v1" --password bench --users "$USERS" \
    task-ids --out "$OUT/$1.tsv" > /dev/null
  "${WRK[@]}" -t"$THREADS" -c"$CONN" -d"$CDUR" --latency -s bench/complete.lua "http://127.0.0.1:$2" \
    -- "$OUT/$1.tsv" "$THREADS" > "$OUT/$1.wrk" 2>&1
  awk '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    # Completions over the whole run: once a thread used up its tasks it sends cheap
    # reads, which Requests/sec would count; then the figure errs low, never high.
    / requests in / { dur=$4+0 } /^completions:/ { n=$2 }
    $1=="50%" { p50=ms($2) } $1=="99%" { p99=ms($2) }
    /exhausted/ { ex="exhausted" } /Non-2xx/ { bad=$NF }
    END { printf "%.0f %.3f %.3f %s %s\n", (dur>0?n/dur:0), p50, p99, (ex==""?"ok":ex), (bad==""?0:bad) }' "$OUT/$1.wrk"
}
read -r C_RPS C_P50 C_P99 C_EX C_BAD < <(complete_run complete-memory "$P2")
kill "$GW_PID"; wait "$GW_PID" 2>/dev/null || true

echo "== task completions with wrk, durable mode (fsync per commit group)"
P4=$(free_port)
DURABLE_CFG="$OUT/gateway-durable.toml"
rm -rf "$OUT/durable-data"
sed "s|^kind = \"memory\"$|kind = \"memory\"\ndata_dir = \"$OUT/durable-data\"\ndurability = \"fsync\"|" \
  "$(gateway_config "$USERS")" > "$DURABLE_CFG"
start_gateway "$DURABLE_CFG" "$P4"
"${LOAD[@]}" "$BIN/fg-load" --url "http://127.0.0.1:$P4/api/v1" --password bench --users "$USERS" \
  --concurrency "$CONN" seed --per-user "$DURABLE_PER_USER" > "$OUT/seed-durable.json"
D_SEED=$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["per_second"]))' "$OUT/seed-durable.json")
read -r D_RPS D_P50 D_P99 D_EX D_BAD < <(complete_run complete-durable "$P4")
kill "$GW_PID"; wait "$GW_PID" 2>/dev/null || true

echo "== full review runs (start, start_review, validate) from $CONN reqwest clients, memory mode"
P3=$(free_port)
start_gateway "$(gateway_config "$USERS")" "$P3"
"${LOAD[@]}" "$BIN/fg-load" --url "http://127.0.0.1:$P3/api/v1" --password bench --users "$USERS" \
  --concurrency "$CONN" drive --workflows "$DRIVE" > "$OUT/drive-memory.json"
R_RATE=$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["completions_per_second"]))' "$OUT/drive-memory.json")
kill "$GW_PID"; wait "$GW_PID" 2>/dev/null || true

fi

echo "== adapter overhead: GET task through the Alfresco adapter vs the simulator directly"
start_alf_sim() { # port delay_ms
  "${RUN[@]}" "$BIN/flowgate-alfresco-sim" --port "$1" --delay-ms "$2" > "$OUT/alf-$1.log" 2>&1 &
  PIDS+=($!)
  wait_http "http://127.0.0.1:$1/alfresco/"
}
alf_engine() { # name port
  printf '[engines.%s]\nkind = "alfresco"\nid_prefix = "%s"\nmounts = ["/%s"]\n' "$1" "$1" "$1"
  printf '[engines.%s.http]\nbase_url = "http://127.0.0.1:%s/alfresco/"\n' "$1" "$2"
  printf '[engines.%s.auth]\nmode = "basic"\nuser = "admin"\npassword = "admin"\n' "$1"
}
PA=$(free_port)
start_alf_sim "$PA" 0
WF="http://127.0.0.1:$PA/alfresco/api/-default-/public/workflow/versions/1"
curl -s -u dave:dave -H 'Content-Type: application/json' \
  -d '{"processDefinitionKey":"activitiReview","variables":{"bpm_assignee":"jdoe"}}' "$WF/processes" > /dev/null
ALF_TASK=$(curl -s -u jdoe:jdoe -G "$WF/tasks" --data-urlencode "where=(status='active' AND assignee='jdoe')" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["list"]["entries"][0]["entry"]["id"])')
AUTH_SAVED=$AUTH
DIRECT_AUTH="Authorization: Basic $(printf 'jdoe:jdoe' | base64)"
ALF_CFG="$OUT/gateway-alfresco.toml"
{ cat "$(gateway_config 1)"; alf_engine alf "$PA"
  printf '[[auth.users]]\nname = "jdoe"\npassword_hash = "%s"\ngroups = ["members"]\n' "$HASH"; } > "$ALF_CFG"
P5=$(free_port)
start_gateway "$ALF_CFG" "$P5"
GW_AUTH="Authorization: Basic $(printf 'jdoe:bench' | base64)"
# One request first, as for the CQ row: the first check of a password hashes it
# (argon2), and the adapter's caches start empty.
curl -s -o /dev/null -H "$GW_AUTH" "http://127.0.0.1:$P5/api/v1/task/alf~$ALF_TASK"
read -r AD_RPS AD_P50 AD_P99 AG_RPS AG_P50 AG_P99 AG_BAD AG_ROUNDS AG_PCT < <(paired \
  alfresco-direct "$WF/tasks/$ALF_TASK" "$DIRECT_AUTH" \
  alfresco-gateway "http://127.0.0.1:$P5/api/v1/task/alf~$ALF_TASK" "$GW_AUTH")
read -r _ AD1_P50 AD1_P99 _ < <(wrk_c1 alfresco-direct-c1 "$WF/tasks/$ALF_TASK" "$DIRECT_AUTH")
read -r _ AG1_P50 AG1_P99 _ < <(wrk_c1 alfresco-gateway-c1 \
  "http://127.0.0.1:$P5/api/v1/task/alf~$ALF_TASK" "$GW_AUTH")
kill "$GW_PID"; wait "$GW_PID" 2>/dev/null || true

echo "== fan-out: \"my tasks\" over three Alfresco simulators answering in 50 ms each"
FAN_CFG="$OUT/gateway-fanout.toml"
{ cat "$(gateway_config 1)"
  for n in 1 2 3; do
    p=$(free_port); start_alf_sim "$p" 50; alf_engine "alf$n" "$p"
    W="http://127.0.0.1:$p/alfresco/api/-default-/public/workflow/versions/1"
    curl -s -u dave:dave -H 'Content-Type: application/json' \
      -d '{"processDefinitionKey":"activitiReview","variables":{"bpm_assignee":"jdoe"}}' "$W/processes" > /dev/null
  done
  printf '[[auth.users]]\nname = "jdoe"\npassword_hash = "%s"\ngroups = ["members"]\n' "$HASH"; } > "$FAN_CFG"
P6=$(free_port)
start_gateway "$FAN_CFG" "$P6"
FAN_TASKS=$(curl -s -u jdoe:bench "http://127.0.0.1:$P6/api/v1/task?userId=jdoe" |
  python3 -c 'import json,sys; print(len(json.load(sys.stdin)["entries"]))')
SAVED_CONN=$CONN; SAVED_THREADS=$THREADS; CONN=1; THREADS=1
AUTH=$GW_AUTH
read -r F_RPS F_P50 F_P99 F_BAD < <(wrk_run fanout "http://127.0.0.1:$P6/api/v1/task?userId=jdoe")
CONN=$SAVED_CONN; THREADS=$SAVED_THREADS; AUTH=$AUTH_SAVED
kill "$GW_PID"; wait "$GW_PID" 2>/dev/null || true

echo "== adapter overhead: GET task through the CQ adapter vs the simulator directly"
start_cq_sim() { # port delay_ms
  "${RUN[@]}" "$BIN/flowgate-cq-sim" --port "$1" --profile aem64-65 --delay-ms "$2" > "$OUT/cq-$1.log" 2>&1 &
  PIDS+=($!)
  wait_http "http://127.0.0.1:$1/etc/workflow/models.json"
}
cq_engine() { # name port
  printf '[engines.%s]\nkind = "cq"\nbase_url = "http://127.0.0.1:%s/"\nprofile = "aem64-65"\n' "$1" "$2"
  printf 'id_prefix = "%s"\nmounts = ["/content"]\n' "$1"
  printf '[engines.%s.auth]\nmode = "basic"\nuser = "admin"\npassword = "admin"\n' "$1"
}
cq_start_review() { # port: starts flowgate/review on page-a as editor1, directly on the sim
  local base="http://127.0.0.1:$1" token
  token=$(curl -s -u editor1:editor1 "$base/libs/granite/csrf/token.json" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  curl -s -o /dev/null -u editor1:editor1 -H "CSRF-Token: $token" \
    --data-urlencode _charset_=utf-8 --data-urlencode model=/var/workflow/models/flowgate/review \
    --data-urlencode payloadType=JCR_PATH --data-urlencode payload=/content/flowgate/en/page-a \
    "$base/etc/workflow/instances"
}
PC=$(free_port)
start_cq_sim "$PC" 0
cq_start_review "$PC"
CQ_ITEM=$(curl -s -u jdoe:jdoe "http://127.0.0.1:$PC/bin/workflow/inbox.json" |
  python3 -c 'import json,sys; print([r["uri"] for r in json.load(sys.stdin) if r.get("type","WorkItem")=="WorkItem"][0])')
AUTH_SAVED=$AUTH
DIRECT_AUTH="Authorization: Basic $(printf 'jdoe:jdoe' | base64)"
CQ_CFG="$OUT/gateway-cq.toml"
{ cat "$(gateway_config 1)"; cq_engine cq "$PC"
  printf '[[auth.users]]\nname = "jdoe"\npassword_hash = "%s"\ngroups = ["authors", "workflow-users"]\n' "$HASH"; } > "$CQ_CFG"
P7=$(free_port)
start_gateway "$CQ_CFG" "$P7"
CQ_TASK=$(curl -s -u jdoe:bench "http://127.0.0.1:$P7/api/v1/task?userId=jdoe" |
  python3 -c 'import json,sys; print([t["id"] for t in json.load(sys.stdin)["entries"] if t["id"].startswith("cq~")][0])')
GW_AUTH="Authorization: Basic $(printf 'jdoe:bench' | base64)"
read -r CD_RPS CD_P50 CD_P99 CG_RPS CG_P50 CG_P99 CG_BAD CG_ROUNDS CG_PCT < <(paired \
  cq-direct "http://127.0.0.1:$PC$CQ_ITEM.json" "$DIRECT_AUTH" \
  cq-gateway "http://127.0.0.1:$P7/api/v1/task/$CQ_TASK" "$GW_AUTH")
read -r _ CD1_P50 CD1_P99 _ < <(wrk_c1 cq-direct-c1 "http://127.0.0.1:$PC$CQ_ITEM.json" "$DIRECT_AUTH")
read -r _ CG1_P50 CG1_P99 _ < <(wrk_c1 cq-gateway-c1 "http://127.0.0.1:$P7/api/v1/task/$CQ_TASK" "$GW_AUTH")
AUTH=$AUTH_SAVED
kill "$GW_PID"; wait "$GW_PID" 2>/dev/null || true

echo "== fan-out: \"my tasks\" over two Alfresco simulators and one CQ simulator, 50 ms each"
MIX_CFG="$OUT/gateway-fanout-mixed.toml"
{ cat "$(gateway_config 1)"
  for n in 1 2; do
    p=$(free_port); start_alf_sim "$p" 50; alf_engine "alf$n" "$p"
    W="http://127.0.0.1:$p/alfresco/api/-default-/public/workflow/versions/1"
    curl -s -u dave:dave -H 'Content-Type: application/json' \
      -d '{"processDefinitionKey":"activitiReview","variables":{"bpm_assignee":"jdoe"}}' "$W/processes" > /dev/null
  done
  p=$(free_port); start_cq_sim "$p" 50; cq_engine cq "$p"; cq_start_review "$p"
  printf '[[auth.users]]\nname = "jdoe"\npassword_hash = "%s"\ngroups = ["authors", "workflow-users"]\n' "$HASH"; } > "$MIX_CFG"
P8=$(free_port)
start_gateway "$MIX_CFG" "$P8"
MIX_TASKS=$(curl -s -u jdoe:bench "http://127.0.0.1:$P8/api/v1/task?userId=jdoe" |
  python3 -c 'import json,sys; print(len(json.load(sys.stdin)["entries"]))')
AUTH_SAVED=$AUTH; SAVED_CONN=$CONN; SAVED_THREADS=$THREADS; CONN=1; THREADS=1
AUTH="Authorization: Basic $(printf 'jdoe:bench' | base64)"
read -r M_RPS M_P50 M_P99 M_BAD < <(wrk_run fanout-mixed "http://127.0.0.1:$P8/api/v1/task?userId=jdoe")
CONN=$SAVED_CONN; THREADS=$SAVED_THREADS; AUTH=$AUTH_SAVED
kill "$GW_PID"; wait "$GW_PID" 2>/dev/null || true

pct() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{100*a/b:.0f}%' if b else 'n/a')" "$1" "$2"; }
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}x' if b else 'n/a')" "$1" "$2"; }
check() { python3 -c "import sys; print('ok' if eval(sys.argv[1]) else 'MISSED')" "$1"; }

: > "$OUT/results.md"
{
  echo "flowgate benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  echo "wrk -t$THREADS -c$CONN -d$DUR ($POLICY scheduling policy); stored tasks: $TASKS over $USERS users; gateway log level warn"
  echo
  echo "| measurement                                  | value        | p50 ms    | p99 ms    | target"
  echo "|----------------------------------------------|--------------|-----------|-----------|-------"
} | tee -a "$OUT/results.md"
if [ "$ADAPTERS_ONLY" = 0 ]; then
row "stack baseline GET (req/s)" "$B_RPS" "$B_P50" "$B_P99" "baseline"
row "GET /task/{id}, $TASKS stored (req/s)" "$G_RPS" "$G_P50" "$G_P99" \
  "$G_PCT% of baseline, median of rounds $G_ROUNDS% (>=60%: $(check "$G_PCT >= 60")); p99 $(ratio "$G_P99" "$B_P99") of baseline (<=3x: $(check "$G_P99 <= 3*$B_P99"))"
row "GET /task?userId= page, $((SMALL_USERS * PER_USER)) stored" "$S_RPS" "$S_P50" "$S_P99" "reference"
row "GET /task?userId= page, $TASKS stored" "$L_RPS" "$L_P50" "$L_P99" \
  "$L_PCT% of the small store, rounds $L_ROUNDS% (>=80%: $(check "$L_PCT >= 80"))"
# A used-up task list makes the rate a lower bound (completions over the whole run).
bound() { [ "$1" = ok ] && echo "task list ok" || echo "task list used up: a lower bound, more with BENCH_TASKS"; }
floor_check() { # expression, exhausted flag: a lower bound below its line proves nothing
  local c; c=$(check "$1"); [ "$c" = MISSED ] && [ "$2" != ok ] && c="unknown"; echo "$c"; }
row "task completions/s, wrk (memory mode)" "$C_RPS" "$C_P50" "$C_P99" \
  "$(pct "$C_RPS" "$B_RPS") of baseline req/s (>=25%: $(floor_check "$C_RPS >= 0.25*$B_RPS" "$C_EX")); $(bound "$C_EX")"
row "task completions/s, wrk (durable, fsync)" "$D_RPS" "$D_P50" "$D_P99" \
  "$([ "$C_EX" = ok ] || echo "at most ")$(pct "$D_RPS" "$C_RPS") of memory mode; $(bound "$D_EX")"
row "full reviews, completions/s (reqwest driver)" "$R_RATE" "" "" \
  "start + 2 completions + 2 task reads per review; driver shares the 2 cores"
row "workflow starts/s: memory / durable" "$SEED_RATE / $D_SEED" "" "" ""
row "RSS with $TASKS running workflows (MB)" "$RSS1" "" "" \
  "$(python3 -c "import sys; a,b,n=float(sys.argv[1]),float(sys.argv[2]),int(sys.argv[3]); print(f'{(a-b)*1048576/n:.0f} bytes/workflow; <=300 MB: ' + ('ok' if a<=300 else 'MISSED'))" "$RSS1" "$RSS0" "$TASKS")"
fi
row "GET task, Alfresco simulator direct (req/s)" "$AD_RPS" "$AD_P50" "$AD_P99" "reference"
row "GET /task/alf~{id} through the gateway" "$AG_RPS" "$AG_P50" "$AG_P99" \
  "$AG_PCT% of direct, rounds $AG_ROUNDS% (>=50%: $(check "$AG_PCT >= 50")); median +$(python3 -c "print(f'{$AG_P50-$AD_P50:.3f}')") ms at $CONN connections (queueing: follows the rate ratio)"
row "  same, 1 connection: direct / gateway p50" "" "$AD1_P50 / $AG1_P50" "$AD1_P99 / $AG1_P99" \
  "added median +$(python3 -c "print(f'{$AG1_P50-$AD1_P50:.3f}')") ms, without queueing (<=1 ms: $(check "$AG1_P50 - $AD1_P50 <= 1"))"
row "my tasks over 3 engines x 50 ms (1 client)" "$F_RPS" "$F_P50" "$F_P99" \
  "$FAN_TASKS tasks; median <=70 ms: $(check "$F_P50 <= 70")"
row "GET task, CQ simulator direct (req/s)" "$CD_RPS" "$CD_P50" "$CD_P99" "reference"
row "GET /task/cq~{id} through the gateway" "$CG_RPS" "$CG_P50" "$CG_P99" \
  "$CG_PCT% of direct, rounds $CG_ROUNDS% (>=50%: $(check "$CG_PCT >= 50")); median +$(python3 -c "print(f'{$CG_P50-$CD_P50:.3f}')") ms at $CONN connections (queueing: follows the rate ratio)"
row "  same, 1 connection: direct / gateway p50" "" "$CD1_P50 / $CG1_P50" "$CD1_P99 / $CG1_P99" \
  "added median +$(python3 -c "print(f'{$CG1_P50-$CD1_P50:.3f}')") ms, without queueing (<=1 ms: $(check "$CG1_P50 - $CD1_P50 <= 1"))"
row "my tasks, 2 Alfresco + 1 CQ x 50 ms (1 client)" "$M_RPS" "$M_P50" "$M_P99" \
  "$MIX_TASKS tasks; not target 6: AEM needs its instance list before the instances, two waves; median <=120 ms (concurrent, not 200 ms in turn): $(check "$M_P50 <= 120")"
NAMES="AG F CG M"; [ "$ADAPTERS_ONLY" = 0 ] && NAMES="G L C D $NAMES"
for name in $NAMES; do
  bad="${name}_BAD"; if [ "${!bad}" != 0 ]; then echo "warning: non-2xx answers in a run ($name): ${!bad}" | tee -a "$OUT/results.md"; fi
done
echo "results: $OUT/results.md"
