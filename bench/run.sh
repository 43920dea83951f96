#!/usr/bin/env bash
# flowgate load benchmarks. Every run is bounded in time and cleans up after itself.
#
#   bench/run.sh            full run (about 13 minutes plus the release build)
#   bench/run.sh --smoke    a few seconds per step, to check the suite still works
#   bench/run.sh [--smoke] --adapters   only the Alfresco / CQ adapter rows
#   bench/run.sh [--smoke] --postgres   only the PostgreSQL rows (bench/pg.sh), with their
#                                       memory-mode and redb references
#
# Every throughput row is measured with two load generators, wrk and oha, each in rounds
# alternating with its reference (the bare actix baseline, nginx in front of the same
# simulator, the small store); a target holds only when it holds with both. Whole review
# lifecycles are driven by bench/lifecycle.lua (wrk) and by fg-load (the project's own
# reqwest driver).
#
# Knobs (environment): BENCH_DURATION (length of one measured run, default 5s; each
# follows an unmeasured one of BENCH_WARMUP, default 2s), BENCH_ROUNDS (rounds of the
# paired rows, default 3), BENCH_CONNECTIONS (default 64), BENCH_THREADS (wrk threads,
# default 2), BENCH_TASKS (stored tasks, default 100000), BENCH_USERS (default 1000),
# BENCH_SCHED_POLICY (`normal`, the default: ordinary tasks; `batch`: every process of the
# run as SCHED_BATCH; `clients`: only the load generators as SCHED_BATCH).
# Results: a table on stdout and target/bench/results.md; raw outputs in target/bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT="$ROOT/target/bench"
mkdir -p "$OUT"

SMOKE=0
ADAPTERS_ONLY=0
PG_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --smoke) SMOKE=1 ;;
    --adapters) ADAPTERS_ONLY=1 ;;
    --postgres) PG_ONLY=1 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done
DUR=${BENCH_DURATION:-5s}
CONN=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
TASKS=${BENCH_TASKS:-100000}
USERS=${BENCH_USERS:-1000}
DRIVE=${BENCH_DRIVE_WORKFLOWS:-4000}
CDUR=${BENCH_COMPLETE_DURATION:-2s}
WARMUP=${BENCH_WARMUP:-2s}
ROUNDS=${BENCH_ROUNDS:-3}
if [ "$SMOKE" = 1 ]; then
  DUR=2s; CDUR=1s; WARMUP=1s; CONN=8; TASKS=6000; USERS=20; DRIVE=100; ROUNDS=1
fi
PER_USER=$((TASKS / USERS))
# The durable store holds as many tasks as the large memory store, so that the timed
# completion run never runs out of tasks.
DURABLE_PER_USER=$PER_USER
SMALL_USERS=$((1000 / PER_USER)); [ "$SMALL_USERS" -lt 1 ] && SMALL_USERS=1

need() { # command debian-package
  command -v "$1" >/dev/null && return 0
  if [ "$(id -u)" = 0 ] && [ -n "$2" ]; then
    apt-get update -qq && apt-get install -y -qq "$2" >/dev/null
  else
    echo "$1 is needed${2:+: apt-get install $2}" >&2; exit 2
  fi
}
need wrk wrk
need nginx nginx
need curl curl
if ! command -v oha >/dev/null; then
  echo "== installing oha from crates.io"
  cargo install -q --locked oha
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

echo "== building release binaries"
cargo build --release -q -p flowgate -p flowgate-bench
if [ "$PG_ONLY" = 0 ]; then
  cargo build --release -q -p flowgate-alfresco --features sim --bin flowgate-alfresco-sim
  cargo build --release -q -p flowgate-cq --features sim --bin flowgate-cq-sim
fi
BIN="$ROOT/target/release"

PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

# Bench users share one password; hashing it once keeps config generation fast.
HASH=$(printf 'bench' | "$BIN/flowgate" hash-password | tail -n 1)
AUTH="Authorization: Basic $(printf 'user0001:bench' | base64)"

gateway_config() { # users -> path
  local users=$1 file="$OUT/gateway-$1.toml"
  {
    echo '[log]'; echo 'level = "warn"'
    echo '[engines.local]'; echo 'kind = "embedded"'; echo 'default = true'
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
stop_gateway() { kill "$GW_PID" 2>/dev/null || true; wait "$GW_PID" 2>/dev/null || true; }

declare -A R  # R[<row>-<gen>] = the paired() line of that row and generator
paired_both() { # key ref_name ref_url ref_auth name url auth
  local gen key=$1; shift
  for gen in wrk oha; do
    echo "   $key with $gen" >&2
    R[$key-$gen]=$(paired "$gen" "$@")
  done
}
field() { # key-gen index (0-based in the paired() line)
  local a; read -r -a a <<< "${R[$1]}"; echo "${a[$2]}"
}

if [ "$ADAPTERS_ONLY" = 0 ] && [ "$PG_ONLY" = 0 ]; then
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
echo "== GET /task/{id} and the stack baseline, alternated ($ROUNDS rounds per load generator)"
paired_both get-task baseline "http://127.0.0.1:$BP/api/v1/task/x" "$AUTH" \
  get-task "http://127.0.0.1:$P2/api/v1/task/$TASK_ID" "$AUTH"
echo "== GET /task?userId= page, small and large store, alternated"
paired_both list list-small "http://127.0.0.1:$P1/api/v1/$Q" "$AUTH" \
  list-large "http://127.0.0.1:$P2/api/v1/$Q" "$AUTH"
kill "$SMALL_PID"; wait "$SMALL_PID" 2>/dev/null || true

echo "== task completions with wrk (cancel button of each stored first task), memory mode"
complete_run() { # name port -> "completions_per_s p50 p99 exhausted non2xx"
  "${LOAD[@]}" "$BIN/fg-load" --url "http://127.0.0.1:$2/api/v1" --password bench --users "$USERS" \
    task-ids --out "$OUT/$1.tsv" > /dev/null
  "${LOAD[@]}" wrk -t"$THREADS" -c"$CONN" -d"$CDUR" --latency -s bench/complete.lua "http://127.0.0.1:$2" \
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
stop_gateway

echo "== task completions with wrk, durable mode (fsync per commit group)"
P4=$(free_port)
DURABLE_CFG="$OUT/gateway-durable.toml"
rm -rf "$OUT/durable-data"
sed "s|^kind = \"embedded\"$|kind = \"embedded\"\ndata_dir = \"$OUT/durable-data\"\ndurability = \"fsync\"|" \
  "$(gateway_config "$USERS")" > "$DURABLE_CFG"
start_gateway "$DURABLE_CFG" "$P4"
"${LOAD[@]}" "$BIN/fg-load" --url "http://127.0.0.1:$P4/api/v1" --password bench --users "$USERS" \
  --concurrency "$CONN" seed --per-user "$DURABLE_PER_USER" > "$OUT/seed-durable.json"
D_SEED=$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["per_second"]))' "$OUT/seed-durable.json")
read -r D_RPS D_P50 D_P99 D_EX D_BAD < <(complete_run complete-durable "$P4")
stop_gateway

echo "== full review lifecycles (start on a document, start_review, validate), memory mode"
# wrk with bench/lifecycle.lua: five requests per review, each answer chooses the next.
P3=$(free_port)
start_gateway "$(gateway_config "$USERS")" "$P3"
"${LOAD[@]}" wrk -t"$THREADS" -c"$CONN" -d"$WARMUP" -s bench/lifecycle.lua "http://127.0.0.1:$P3" \
  -- "${AUTH#Authorization: }" user0001 > /dev/null 2>&1 || true
"${LOAD[@]}" wrk -t"$THREADS" -c"$CONN" -d"$DUR" --latency -s bench/lifecycle.lua "http://127.0.0.1:$P3" \
  -- "${AUTH#Authorization: }" user0001 > "$OUT/lifecycle.wrk" 2>&1
read -r LW_RPS LW_P50 LW_P99 LW_REVIEWS LW_FAIL < <(awk '
  function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
  / requests in / { dur=$4+0 } /Requests\/sec/ { rps=$2 } /^reviews:/ { n=$2 } /^failures:/ { f=$2 }
  $1=="50%" { p50=ms($2) } $1=="99%" { p99=ms($2) }
  END { printf "%.0f %.3f %.3f %.0f %d\n", rps, p50, p99, (dur>0?n/dur:0), f }' "$OUT/lifecycle.wrk")
# fg-load: the same review from $CONN reqwest clients, each review one client's sequence.
"${LOAD[@]}" "$BIN/fg-load" --url "http://127.0.0.1:$P3/api/v1" --password bench --users "$USERS" \
  --concurrency "$CONN" drive --workflows "$DRIVE" > "$OUT/drive-memory.json"
read -r LF_RPS LF_REVIEWS < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(round(d["requests_per_second"]), round(d["completions_per_second"]/2))' "$OUT/drive-memory.json")
stop_gateway
fi

# PostgreSQL rows (bench/pg.sh), when scripts/postgres.sh finds a server; BENCH_POSTGRES=0
# leaves them out of a full run.
PG_ROWS=0
if [ "$ADAPTERS_ONLY" = 0 ] && { [ "$PG_ONLY" = 1 ] || [ "${BENCH_POSTGRES:-1}" = 1 ]; } &&
  bash scripts/postgres.sh > /dev/null; then
  # shellcheck source=bench/pg.sh
  . "$ROOT/bench/pg.sh"
  PG_ROWS=1
fi
if [ "$PG_ONLY" = 1 ]; then
  [ "$PG_ROWS" = 1 ] || { echo "no PostgreSQL server (scripts/postgres.sh)" >&2; exit 2; }
  : > "$OUT/results.md"
  {
    echo "flowgate PostgreSQL benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores; wrk -t$THREADS -c$CONN, oha -c$CONN and fg-load, $DUR per read run, $ROUNDS alternating rounds"
    echo
    echo "| measurement                                    | value        | p50 ms    | p99 ms    | target"
    echo "|------------------------------------------------|--------------|-----------|-----------|-------"
  } | tee -a "$OUT/results.md"
  pg_rows
  echo "results: $OUT/results.md"
  exit 0
fi

# The adapter rows: the simulator directly, nginx in front of it (upstream keep-alive) and
# the gateway's adapter in front of it, all in one run. Prints nothing; fills R[].
adapter_rows() { # key direct_url direct_auth nginx_url gateway_url gateway_auth
  local key=$1 gen
  paired_both "$key" "$key-nginx" "$4" "$3" "$key-gateway" "$5" "$6"
  for gen in wrk oha; do
    R[$key-direct-$gen]=$(AUTH=$3 gen_run "$gen" "$key-direct" "$2")
    R[$key-c1-direct-$gen]=$(c1_run "$gen" "$key-direct-c1" "$2" "$3")
    R[$key-c1-nginx-$gen]=$(c1_run "$gen" "$key-nginx-c1" "$4" "$3")
    R[$key-c1-gateway-$gen]=$(c1_run "$gen" "$key-gateway-c1" "$5" "$6")
  done
}

echo "== adapter overhead: GET task through the Alfresco adapter, nginx and directly"
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
alf_start_review() { # port
  curl -s -o /dev/null -u dave:dave -H 'Content-Type: application/json' \
    -d '{"processDefinitionKey":"activitiReview","variables":{"bpm_assignee":"jdoe"}}' \
    "http://127.0.0.1:$1/alfresco/api/-default-/public/workflow/versions/1/processes"
}
PA=$(free_port)
start_alf_sim "$PA" 0
alf_start_review "$PA"
WF="http://127.0.0.1:$PA/alfresco/api/-default-/public/workflow/versions/1"
ALF_TASK=$(curl -s -u jdoe:jdoe -G "$WF/tasks" --data-urlencode "where=(status='active' AND assignee='jdoe')" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["list"]["entries"][0]["entry"]["id"])')
NA=$(free_port)
start_nginx alfresco "$NA" "$PA"
wait_http "http://127.0.0.1:$NA/alfresco/"
DIRECT_AUTH="Authorization: Basic $(printf 'jdoe:jdoe' | base64)"
GW_AUTH="Authorization: Basic $(printf 'jdoe:bench' | base64)"
ALF_CFG="$OUT/gateway-alfresco.toml"
{ cat "$(gateway_config 1)"; alf_engine alf "$PA"
  printf '[[auth.users]]\nname = "jdoe"\npassword_hash = "%s"\ngroups = ["members"]\n' "$HASH"; } > "$ALF_CFG"
P5=$(free_port)
start_gateway "$ALF_CFG" "$P5"
# One request first: the first check of a password hashes it (argon2), and the adapter's
# caches start empty.
curl -s -o /dev/null -H "$GW_AUTH" "http://127.0.0.1:$P5/api/v1/task/alf~$ALF_TASK"
adapter_rows alfresco "$WF/tasks/$ALF_TASK" "$DIRECT_AUTH" \
  "http://127.0.0.1:$NA/alfresco/api/-default-/public/workflow/versions/1/tasks/$ALF_TASK" \
  "http://127.0.0.1:$P5/api/v1/task/alf~$ALF_TASK" "$GW_AUTH"
stop_gateway
kill "$NGINX_PID" 2>/dev/null || true

echo "== fan-out: \"my tasks\" over three Alfresco simulators answering in 50 ms each"
FAN_CFG="$OUT/gateway-fanout.toml"
{ cat "$(gateway_config 1)"
  for n in 1 2 3; do
    p=$(free_port); start_alf_sim "$p" 50; alf_engine "alf$n" "$p"; alf_start_review "$p"
  done
  printf '[[auth.users]]\nname = "jdoe"\npassword_hash = "%s"\ngroups = ["members"]\n' "$HASH"; } > "$FAN_CFG"
P6=$(free_port)
start_gateway "$FAN_CFG" "$P6"
FAN_TASKS=$(curl -s -u jdoe:bench "http://127.0.0.1:$P6/api/v1/task?userId=jdoe" |
  python3 -c 'import json,sys; print(len(json.load(sys.stdin)["entries"]))')
read -r F_RPS F_P50 F_P99 F_BAD < <(c1_run wrk fanout "http://127.0.0.1:$P6/api/v1/task?userId=jdoe" "$GW_AUTH")
stop_gateway

echo "== adapter overhead: GET task through the CQ adapter, nginx and directly"
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
NC=$(free_port)
start_nginx cq "$NC" "$PC"
wait_http "http://127.0.0.1:$NC/etc/workflow/models.json"
CQ_CFG="$OUT/gateway-cq.toml"
{ cat "$(gateway_config 1)"; cq_engine cq "$PC"
  printf '[[auth.users]]\nname = "jdoe"\npassword_hash = "%s"\ngroups = ["authors", "workflow-users"]\n' "$HASH"; } > "$CQ_CFG"
P7=$(free_port)
start_gateway "$CQ_CFG" "$P7"
CQ_TASK=$(curl -s -u jdoe:bench "http://127.0.0.1:$P7/api/v1/task?userId=jdoe" |
  python3 -c 'import json,sys; print([t["id"] for t in json.load(sys.stdin)["entries"] if t["id"].startswith("cq~")][0])')
adapter_rows cq "http://127.0.0.1:$PC$CQ_ITEM.json" "$DIRECT_AUTH" "http://127.0.0.1:$NC$CQ_ITEM.json" \
  "http://127.0.0.1:$P7/api/v1/task/$CQ_TASK" "$GW_AUTH"
stop_gateway
kill "$NGINX_PID" 2>/dev/null || true

echo "== fan-out: \"my tasks\" over two Alfresco simulators and one CQ simulator, 50 ms each"
MIX_CFG="$OUT/gateway-fanout-mixed.toml"
{ cat "$(gateway_config 1)"
  for n in 1 2; do
    p=$(free_port); start_alf_sim "$p" 50; alf_engine "alf$n" "$p"; alf_start_review "$p"
  done
  p=$(free_port); start_cq_sim "$p" 50; cq_engine cq "$p"; cq_start_review "$p"
  printf '[[auth.users]]\nname = "jdoe"\npassword_hash = "%s"\ngroups = ["authors", "workflow-users"]\n' "$HASH"; } > "$MIX_CFG"
P8=$(free_port)
start_gateway "$MIX_CFG" "$P8"
MIX_TASKS=$(curl -s -u jdoe:bench "http://127.0.0.1:$P8/api/v1/task?userId=jdoe" |
  python3 -c 'import json,sys; print(len(json.load(sys.stdin)["entries"]))')
read -r M_RPS M_P50 M_P99 M_BAD < <(c1_run wrk fanout-mixed "http://127.0.0.1:$P8/api/v1/task?userId=jdoe" "$GW_AUTH")
stop_gateway

: > "$OUT/results.md"
{
  echo "flowgate benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  echo "wrk -t$THREADS -c$CONN and oha -c$CONN, $DUR per run, $ROUNDS alternating rounds per paired row ($POLICY scheduling policy); stored tasks: $TASKS over $USERS users; gateway log level warn"
  echo
  echo "| measurement                                    | value        | p50 ms    | p99 ms    | target"
  echo "|------------------------------------------------|--------------|-----------|-----------|-------"
} | tee -a "$OUT/results.md"
BADS=()
if [ "$ADAPTERS_ONLY" = 0 ]; then
declare -A OK
for gen in wrk oha; do
  k=get-task-$gen
  row "stack baseline GET, $gen (req/s)" "$(field "$k" 0)" "$(field "$k" 1)" "$(field "$k" 2)" "baseline"
  OK[get-$gen]=$(check "$(field "$k" 8) >= 50 and $(field "$k" 5) <= 3*$(field "$k" 2)")
  row "GET /task/{id}, $TASKS stored, $gen (req/s)" "$(field "$k" 3)" "$(field "$k" 4)" "$(field "$k" 5)" \
    "$(field "$k" 8)% of baseline, rounds $(field "$k" 7)%; p99 $(ratio "$(field "$k" 5)" "$(field "$k" 2)") of baseline (>=50%, p99 <=3x: ${OK[get-$gen]})"
  BADS+=("get-task-$gen:$(field "$k" 6)")
done
row "  target: GET /task/{id} with both generators" "" "" "" "$(both "${OK[get-wrk]}" "${OK[get-oha]}")"
for gen in wrk oha; do
  k=list-$gen
  row "GET /task?userId= page, $TASKS vs $((SMALL_USERS * PER_USER)) stored, $gen" "$(field "$k" 3)" "$(field "$k" 4)" "$(field "$k" 5)" \
    "$(field "$k" 8)% of the small store's $(field "$k" 0) req/s, rounds $(field "$k" 7)% (>=80%: $(check "$(field "$k" 8) >= 80"))"
  BADS+=("list-$gen:$(field "$k" 6)")
done
B_WRK=$(field get-task-wrk 0); B_OHA=$(field get-task-oha 0)
bound() { [ "$1" = ok ] && echo "task list ok" || echo "task list used up: a lower bound, more with BENCH_TASKS"; }
row "task completions/s, wrk (memory mode)" "$C_RPS" "$C_P50" "$C_P99" \
  "$(pct "$C_RPS" "$B_WRK") of the wrk baseline's req/s; $(bound "$C_EX")"
row "task completions/s, wrk (durable, fsync)" "$D_RPS" "$D_P50" "$D_P99" \
  "$([ "$C_EX" = ok ] || echo "at most ")$(pct "$D_RPS" "$C_RPS") of memory mode; $(bound "$D_EX")"
LW_OK=$(check "$LW_RPS >= 0.25*$B_WRK and $LW_FAIL == 0")
LF_OK=$(check "$LF_RPS >= 0.25*$B_OHA")
row "review lifecycle, wrk + lifecycle.lua (req/s)" "$LW_RPS" "$LW_P50" "$LW_P99" \
  "$LW_REVIEWS reviews/s, $LW_FAIL failed; $(pct "$LW_RPS" "$B_WRK") of the wrk baseline (>=25%: $LW_OK)"
row "review lifecycle, fg-load reqwest driver (req/s)" "$LF_RPS" "" "" \
  "$LF_REVIEWS reviews/s; $(pct "$LF_RPS" "$B_OHA") of the oha baseline (>=25%: $LF_OK)"
row "  target: lifecycle with both drivers" "" "" "" "$(both "$LW_OK" "$LF_OK")"
row "workflow starts/s: memory / durable" "$SEED_RATE / $D_SEED" "" "" ""
row "RSS with $TASKS running workflows (MB)" "$RSS1" "" "" \
  "$(python3 -c "import sys; a,b,n=float(sys.argv[1]),float(sys.argv[2]),int(sys.argv[3]); print(f'{(a-b)*1048576/n:.0f} bytes/workflow')" "$RSS1" "$RSS0" "$TASKS")"
# Memory per running workflow (bench/src/bin/fg-mem.rs): the release binary with the
# shipped configuration (config/dev.toml: redb, fsync) and its in-memory variant,
# workflows started as users start them (on documents, participants, a comment); then
# RSS over rounds of full reviews with retention on ("1s", swept every second).
MEM_N=${BENCH_MEM_WORKFLOWS:-100000}; MEM_ROUNDS=10; MEM_REVIEWS=5000
[ "$SMOKE" = 1 ] && { MEM_N=2000; MEM_ROUNDS=3; MEM_REVIEWS=300; }
jget() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print(" ".join(f"{x/1024:.0f}" for x in v) if isinstance(v, list) else v)' "$1" "$2"; }
for mode in memory redb; do
  echo "   fg-mem per-workflow ($mode)" >&2
  "${LOAD[@]}" "$BIN/fg-mem" --bin "$BIN/flowgate" --storage "$mode" --port "$(free_port)" \
    --work "$OUT/fg-mem-$mode" per-workflow --workflows "$MEM_N" > "$OUT/mem-$mode.json"
  MB=$(jget "$OUT/mem-$mode.json" bytes_per_workflow)
  row "RSS per running workflow, $mode (B)" "$MB" "" "" \
    "$MEM_N workflows on documents; <=3000: $(check "$MB <= 3000"); errors $(jget "$OUT/mem-$mode.json" errors)"
done
echo "   fg-mem long-run (redb, retention 1s)" >&2
"${LOAD[@]}" "$BIN/fg-mem" --bin "$BIN/flowgate" --storage redb --port "$(free_port)" \
  --work "$OUT/fg-mem-long" long-run --rounds "$MEM_ROUNDS" --reviews "$MEM_REVIEWS" > "$OUT/mem-long.json"
row "RSS over $MEM_ROUNDS x $MEM_REVIEWS reviews, retention on (MB)" "$(jget "$OUT/mem-long.json" rss_kb | awk '{print $NF}')" "" "" \
  "after each round: $(jget "$OUT/mem-long.json" rss_kb); growth after round 1: $(jget "$OUT/mem-long.json" growth_after_first_round_kb) kB"
if [ "$PG_ROWS" = 1 ]; then pg_rows; fi
fi
adapter_table() { # key label
  local key=$1 label=$2 gen k ok1 ok2 okw=() okc=()
  for gen in wrk oha; do
    k=$key-$gen
    row "GET task, $label simulator direct, $gen" "$(field "$key-direct-$gen" 0)" "$(field "$key-direct-$gen" 1)" "$(field "$key-direct-$gen" 2)" "reference"
    row "  nginx in front of it, $gen" "$(field "$k" 0)" "$(field "$k" 1)" "$(field "$k" 2)" "anchor"
    ok1=$(check "$(field "$k" 8) >= 80")
    row "  gateway in front of it, $gen" "$(field "$k" 3)" "$(field "$k" 4)" "$(field "$k" 5)" \
      "$(field "$k" 8)% of nginx, rounds $(field "$k" 7)% (>=80%: $ok1)"
    local d n g
    d=$(field "$key-c1-direct-$gen" 1); n=$(field "$key-c1-nginx-$gen" 1); g=$(field "$key-c1-gateway-$gen" 1)
    ok2=$(check "$g - $n <= 0.3")
    row "  1 connection, p50 direct / nginx / gateway" "" "$d / $n / $g" "" \
      "gateway adds $(minus "$g" "$d") ms, nginx $(minus "$n" "$d") ms; over nginx +$(minus "$g" "$n") ms (<=0.3: $ok2)"
    okw+=("$ok1"); okc+=("$ok2")
    BADS+=("$k:$(field "$k" 6)")
  done
  row "  target: $label reads with both generators" "" "" "" \
    "$(both "$(both "${okw[0]}" "${okw[1]}")" "$(both "${okc[0]}" "${okc[1]}")")"
}
adapter_table alfresco Alfresco
row "my tasks over 3 engines x 50 ms (1 client, wrk)" "$F_RPS" "$F_P50" "$F_P99" \
  "$FAN_TASKS tasks; median <=70 ms: $(check "$F_P50 <= 70")"
adapter_table cq CQ
row "my tasks, 2 Alfresco + 1 CQ x 50 ms (1 client, wrk)" "$M_RPS" "$M_P50" "$M_P99" \
  "$MIX_TASKS tasks; two waves (AEM lists instances first); median <=120 ms: $(check "$M_P50 <= 120")"
for b in "${BADS[@]}"; do
  if [ "${b##*:}" != 0 ]; then echo "warning: non-2xx answers in a run (${b%%:*}): ${b##*:}" | tee -a "$OUT/results.md"; fi
done
[ "$ADAPTERS_ONLY" = 1 ] || [ "$C_BAD" = 0 ] || echo "warning: non-2xx completions: $C_BAD" | tee -a "$OUT/results.md"
[ "$ADAPTERS_ONLY" = 1 ] || bash bench/events.sh $([ "$SMOKE" = 1 ] && echo --smoke) | tee -a "$OUT/results.md"
echo "results: $OUT/results.md"
