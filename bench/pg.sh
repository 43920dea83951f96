# PostgreSQL rows of bench/run.sh: completions and GET /task/{id} on PostgreSQL with one
# and two replicas, beside redb (fsync) and memory mode; pgbench's simple-update script
# on the same server as the anchor; reads at 10,000 and at 1,000,000 workflows, and a
# replica's start-up time and memory at both sizes. Sourced, not run. Expects BIN, OUT,
# CONN, THREADS, DUR, WARMUP, ROUNDS, HASH, LOAD, RUN and the helpers of run.sh/lib.sh;
# fills PGR[] for pg_rows.
#
# Knobs: BENCH_PG_USERS (users, default 100), BENCH_PG_TASKS (tasks seeded through the
# API for each completion target in memory and redb, default 30000; BENCH_PG_TASKS_PG on
# PostgreSQL, default 3000), BENCH_PG_COMPLETE (length of one completion run on
# PostgreSQL, default 5s; BENCH_PG_COMPLETE_LOCAL in memory and redb, default 1s, so
# that their task lists last), BENCH_PG_SMALL (workflows of the small store, default
# 10000), BENCH_PG_LARGE (workflows of the large store, default 1000000; the rows beyond
# the small store's are cloned in SQL), BENCH_PG_PGBENCH (pgbench run, default 10s).
# The database: scripts/postgres.sh (FLOWGATE_TEST_DATABASE_URL when set). Every schema
# used here is named bench_pg_* and dropped first.

PGU=${BENCH_PG_USERS:-100}
PG_TASKS=${BENCH_PG_TASKS:-30000}
PG_TASKS_PG=${BENCH_PG_TASKS_PG:-3000}
PG_CDUR=${BENCH_PG_COMPLETE:-5s}
PG_CDUR_LOCAL=${BENCH_PG_COMPLETE_LOCAL:-1s}
PG_SMALL=${BENCH_PG_SMALL:-10000}
PG_LARGE=${BENCH_PG_LARGE:-1000000}
PG_BENCH_T=${BENCH_PG_PGBENCH:-10}
if [ "$SMOKE" = 1 ]; then
  PGU=10; PG_TASKS=400; PG_TASKS_PG=400; PG_CDUR=1s; PG_CDUR_LOCAL=1s; PG_SMALL=200; PG_LARGE=2000; PG_BENCH_T=2
fi
PG_URL=$(bash "$ROOT/scripts/postgres.sh")
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -tA "$PG_URL")
PGBENCH=$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | sort -V | tail -n1)
declare -A PGR

pg_config() { # schema -> path (memory-mode gateway config turned into a PostgreSQL one)
  local file="$OUT/gateway-pg-$1.toml"
  sed "s|^kind = \"embedded\"$|kind = \"embedded\"\nstorage = \"postgres\"\ndatabase_schema = \"$1\"|" \
    "$(gateway_config "$PGU")" > "$file"
  echo "$file"
}
# A replica on one schema; the URL comes from the environment, as in production.
start_pg_gateway() { # schema port -> GW_PID, PG_START_MS (spawn to first ready answer)
  local t0 t1
  t0=$(date +%s%N)
  FLOWGATE__ENGINES__LOCAL__DATABASE_URL="$PG_URL" "${RUN[@]}" "$BIN/flowgate" serve \
    --config "$(pg_config "$1")" --bind "127.0.0.1:$2" > "$OUT/gateway-pg-$2.log" 2>&1 &
  GW_PID=$!; PIDS+=("$GW_PID")
  for _ in $(seq 1 3000); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$2/health/ready")" = 200 ] && break
    sleep 0.01
  done
  t1=$(date +%s%N)
  PG_START_MS=$(( (t1 - t0) / 1000000 ))
}
# nginx, round robin over upstreams on one schema (upstream keep-alive). Sets NGINX_PID.
start_nginx_rr() { # name listen_port upstream_port...
  local name=$1 port=$2 dir="$OUT/nginx-$1" servers=""; shift 2
  for p in "$@"; do servers="$servers server 127.0.0.1:$p;"; done
  mkdir -p "$dir/tmp"
  cat > "$dir/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  upstream gw { $servers keepalive 128; }
  server {
    listen 127.0.0.1:$port;
    location / {
      proxy_pass http://gw;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
    }
  }
}
EOF
  "${RUN[@]}" nginx -p "$dir" -c "$dir/nginx.conf" > "$dir/stdout.log" 2>&1 &
  NGINX_PID=$!; PIDS+=("$NGINX_PID")
  wait_http "http://127.0.0.1:$port/health/ready"
}

pg_seed() { # name port per_user -> starts/s
  "${LOAD[@]}" "$BIN/fg-load" --url "http://127.0.0.1:$2/api/v1" --password bench --users "$PGU" \
    --concurrency "$CONN" seed --per-user "$3" > "$OUT/pg-seed-$1.json"
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(round(d["per_second"]), d["sample_task"])' "$OUT/pg-seed-$1.json"
}
# Completions with both drivers, each on open tasks nobody completed before: wrk with
# bench/complete.lua, then fg-load's reqwest clients on the tasks still open.
# Sets PGR[<name>-wrk] = "per_s p50 p99 exhausted non2xx", PGR[<name>-fg] = "per_s exhausted errors".
pg_complete() { # name port duration
  local sampler=""
  "${LOAD[@]}" "$BIN/fg-load" --url "http://127.0.0.1:$2/api/v1" --password bench --users "$PGU" \
    task-ids --out "$OUT/pg-$1.tsv" > /dev/null
  if [[ $1 == pg* ]]; then
    # What the gateway's database sessions are doing during the wrk run, sampled every
    # 0.2 s: "wait_event_type:wait_event" (Lock:transactionid = waiting for another
    # step's row lock, IO:WALSync / LWLock:WALWrite = the commit's flush, Client:ClientRead
    # = waiting for the gateway's next statement, cpu = running).
    ( end=$(( $(date +%s) + ${3%s} )); while [ "$(date +%s)" -lt "$end" ]; do
        "${PSQL[@]}" -F ' ' -c "SELECT coalesce(wait_event_type, 'cpu') || ':' || coalesce(wait_event, '-'), count(*) FROM pg_stat_activity WHERE application_name = 'flowgate' AND state <> 'idle' AND pid <> pg_backend_pid() GROUP BY 1"
        sleep 0.2
      done > "$OUT/pg-$1-waits.txt" 2>/dev/null ) &
    sampler=$!
  fi
  "${LOAD[@]}" wrk -t"$THREADS" -c"$CONN" -d"$3" --latency -s bench/complete.lua "http://127.0.0.1:$2" \
    -- "$OUT/pg-$1.tsv" "$THREADS" > "$OUT/pg-$1.wrk" 2>&1
  PGR[$1-wrk]=$(awk '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    / requests in / { dur=$4+0 } /^completions:/ { n=$2 }
    $1=="50%" { p50=ms($2) } $1=="99%" { p99=ms($2) }
    /exhausted/ { ex="exhausted" } /Non-2xx/ { bad=$NF }
    END { printf "%.0f %.3f %.3f %s %s\n", (dur>0?n/dur:0), p50, p99, (ex==""?"ok":ex), (bad==""?0:bad) }' "$OUT/pg-$1.wrk")
  # wrk's last requests may still be committing: their tasks must not be listed as open.
  sleep 1
  "${LOAD[@]}" "$BIN/fg-load" --url "http://127.0.0.1:$2/api/v1" --password bench --users "$PGU" \
    task-ids --out "$OUT/pg-$1-fg.tsv" > /dev/null
  "${LOAD[@]}" "$BIN/fg-load" --url "http://127.0.0.1:$2/api/v1" --password bench --users "$PGU" \
    --concurrency "$CONN" complete --tasks "$OUT/pg-$1-fg.tsv" --seconds "${3%s}" > "$OUT/pg-$1-fg.json" || true
  if [ -n "$sampler" ]; then
    wait "$sampler" 2>/dev/null || true
    PGR[$1-waits]=$(awk '{ n[$1] += $2; t += $2 } END { for (k in n) printf "%s %.0f%%\n", k, 100 * n[k] / t }' "$OUT/pg-$1-waits.txt" |
      sort -k2 -t' ' -rn | head -n 4 | paste -sd, - | sed 's/,/, /g')
  fi
  PGR[$1-fg]=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(round(d["completions_per_second"]), "exhausted" if d["exhausted"] else "ok", d["errors"])' "$OUT/pg-$1-fg.json")
}
pgf() { local a; read -r -a a <<< "${PGR[$1]}"; echo "${a[$2]}"; }

echo "== PostgreSQL: schemas bench_pg_* on $(echo "$PG_URL" | sed 's|//[^@]*@|//|')"
for s in bench_pg_complete bench_pg_small bench_pg_large bench_pg_pgbench; do
  "${PSQL[@]}" -c "DROP SCHEMA IF EXISTS $s CASCADE" 2>/dev/null
done
PG_PER_USER=$((PG_TASKS / PGU)); PG_PER_USER_PG=$((PG_TASKS_PG / PGU))
AUTH_PG="Authorization: Basic $(printf 'user0001:bench' | base64)"

echo "== completions: memory mode, redb (fsync), PostgreSQL 1 replica, 2 replicas behind nginx"
PM=$(free_port)
start_gateway "$(gateway_config "$PGU")" "$PM"
read -r SEED_MEM _ < <(pg_seed memory "$PM" "$PG_PER_USER"); PGR[seed-memory]=$SEED_MEM
pg_complete memory "$PM" "$PG_CDUR_LOCAL"
stop_gateway
PD=$(free_port)
rm -rf "$OUT/pg-durable-data"
sed "s|^kind = \"embedded\"$|kind = \"embedded\"\ndata_dir = \"$OUT/pg-durable-data\"\ndurability = \"fsync\"|" \
  "$(gateway_config "$PGU")" > "$OUT/gateway-pg-durable.toml"
start_gateway "$OUT/gateway-pg-durable.toml" "$PD"
read -r SEED_REDB _ < <(pg_seed redb "$PD" "$PG_PER_USER"); PGR[seed-redb]=$SEED_REDB
pg_complete redb "$PD" "$PG_CDUR_LOCAL"
stop_gateway
PA=$(free_port)
start_pg_gateway bench_pg_complete "$PA"; PG_A=$GW_PID
read -r SEED_PG _ < <(pg_seed pg1 "$PA" "$PG_PER_USER_PG"); PGR[seed-pg]=$SEED_PG
pg_complete pg1 "$PA" "$PG_CDUR"
PB=$(free_port)
start_pg_gateway bench_pg_complete "$PB"; PG_B=$GW_PID
PN=$(free_port)
start_nginx_rr pg2 "$PN" "$PA" "$PB"; PG_NGINX=$NGINX_PID
pg_seed pg2 "$PN" "$PG_PER_USER_PG" > /dev/null
pg_complete pg2 "$PN" "$PG_CDUR"

echo "== pgbench -N (simple update) on the same server, $CONN clients, ${PG_BENCH_T}s"
kill "$PG_NGINX" "$PG_A" "$PG_B" 2>/dev/null || true; wait "$PG_NGINX" "$PG_A" "$PG_B" 2>/dev/null || true
"${PSQL[@]}" -c "CREATE SCHEMA bench_pg_pgbench"
PGOPTIONS="-c search_path=bench_pg_pgbench" "$PGBENCH" -q -i -s 10 "$PG_URL" > "$OUT/pgbench-init.log" 2>&1
PGOPTIONS="-c search_path=bench_pg_pgbench" "${LOAD[@]}" "$PGBENCH" -N -c "$CONN" -j "$THREADS" -T "$PG_BENCH_T" \
  "$PG_URL" > "$OUT/pgbench.log" 2>&1
PGR[pgbench]=$(awk '/^tps = / { printf "%.0f", $3 } /latency average/ { }' "$OUT/pgbench.log")
"${PSQL[@]}" -c "DROP SCHEMA bench_pg_pgbench CASCADE"

echo "== GET /task/{id}: PostgreSQL 1 replica and 2 behind nginx, memory mode alternated"
start_gateway "$(gateway_config "$PGU")" "$PM"; PG_MEM=$GW_PID
read -r _ MEM_TASK < <(pg_seed mem-get "$PM" 10)
start_pg_gateway bench_pg_complete "$PA"; PG_A=$GW_PID
start_pg_gateway bench_pg_complete "$PB"; PG_B=$GW_PID
start_nginx_rr pg2 "$PN" "$PA" "$PB"; PG_NGINX=$NGINX_PID
read -r _ PG_TASK < <(pg_seed pg-get "$PA" 10)
paired_both pg-get1 pg-mem "http://127.0.0.1:$PM/api/v1/task/$MEM_TASK" "$AUTH_PG" \
  pg-get1 "http://127.0.0.1:$PA/api/v1/task/$PG_TASK" "$AUTH_PG"
paired_both pg-get2 pg-mem2 "http://127.0.0.1:$PM/api/v1/task/$MEM_TASK" "$AUTH_PG" \
  pg-get2 "http://127.0.0.1:$PN/api/v1/task/$PG_TASK" "$AUTH_PG"
kill "$PG_NGINX" "$PG_A" "$PG_B" "$PG_MEM" 2>/dev/null || true
wait "$PG_NGINX" "$PG_A" "$PG_B" "$PG_MEM" 2>/dev/null || true

echo "== scale: $PG_SMALL workflows (through the API) and $PG_LARGE (cloned in SQL)"
PS=$(free_port); PL=$(free_port)
start_pg_gateway bench_pg_small "$PS"; PG_S=$GW_PID
read -r SEED_SMALL _ < <(pg_seed small "$PS" $((PG_SMALL / PGU))); PGR[seed-small]=$SEED_SMALL
start_pg_gateway bench_pg_large "$PL"; PG_L=$GW_PID
kill "$PG_S" "$PG_L"; wait "$PG_S" "$PG_L" 2>/dev/null || true
T0=$(date +%s)
"${PSQL[@]}" -v clones=$(( (PG_LARGE - PG_SMALL) / PG_SMALL )) -f "$ROOT/bench/pg-clone.sql" > "$OUT/pg-clone.log" 2>&1
PGR[clone-s]=$(( $(date +%s) - T0 ))
PGR[large-count]=$("${PSQL[@]}" -c "SELECT count(*) FROM bench_pg_large.fg_workflows")
PGR[large-size]=$("${PSQL[@]}" -c "SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'bench_pg_large' AND c.relkind = 'r'")
start_pg_gateway bench_pg_small "$PS"; PG_S=$GW_PID; PGR[start-small]=$PG_START_MS; PGR[rss0-small]=$(rss_mb "$PG_S")
start_pg_gateway bench_pg_large "$PL"; PG_L=$GW_PID; PGR[start-large]=$PG_START_MS; PGR[rss0-large]=$(rss_mb "$PG_L")
SCALE_TASK=$(curl -s -H "$AUTH_PG" "http://127.0.0.1:$PS/api/v1/task?userId=user0001&isPaginated=true&pageSize=1" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["entries"][0]["id"])')
QP="task?userId=user0001&isPaginated=true&pageSize=20"
paired_both pg-scale-get pg-small-get "http://127.0.0.1:$PS/api/v1/task/$SCALE_TASK" "$AUTH_PG" \
  pg-large-get "http://127.0.0.1:$PL/api/v1/task/$SCALE_TASK" "$AUTH_PG"
paired_both pg-scale-list pg-small-list "http://127.0.0.1:$PS/api/v1/$QP" "$AUTH_PG" \
  pg-large-list "http://127.0.0.1:$PL/api/v1/$QP" "$AUTH_PG"
PGR[rss1-small]=$(rss_mb "$PG_S"); PGR[rss1-large]=$(rss_mb "$PG_L")
# The plan of the engine's task-list query (adapters/memory/src/pg/read.rs) at both sizes.
for s in small large; do
  "${PSQL[@]}" > "$OUT/pg-explain-list-$s.txt" 2>&1 <<EOF || true
SET search_path = bench_pg_$s;
PREPARE q(text, bool, uuid, text[], text, text, text[], text, bigint, bigint) AS
SELECT t.record::text, w.record::text, count(*) OVER () FROM fg_tasks t
 JOIN fg_workflows w ON w.engine = t.engine AND w.id = t.workflow_id
 WHERE t.engine = \$1 AND (NOT \$2 OR t.state = 'opened') AND (\$3::uuid IS NULL OR t.workflow_id = \$3)
 AND (\$4::text[] IS NULL OR t.principals && \$4) AND (\$5::text IS NULL OR w.documents @> ARRAY[\$5::text])
 AND (\$6::text IS NULL OR w.model = \$6)
 AND (\$7::text[] IS NULL OR t.principals && \$7 OR w.initiator = \$8 OR t.initiator = \$8)
 ORDER BY t.due ASC NULLS LAST, t.created, t.id LIMIT \$9 OFFSET \$10;
EXPLAIN (ANALYZE, BUFFERS) EXECUTE q('local', true, NULL, ARRAY['user0001','user:user0001','members','group:members'], NULL, NULL, ARRAY['user0001','user:user0001','members','group:members'], 'user0001', 20, 0);
EOF
done
kill "$PG_S" "$PG_L" 2>/dev/null || true; wait "$PG_S" "$PG_L" 2>/dev/null || true

# The table rows (called by run.sh after its header).
pg_rows() {
  local gen k pb=${PGR[pgbench]} c1 ok okw=() oks=()
  for n in memory redb pg1 pg2; do
    case $n in memory) l="memory mode";; redb) l="redb (fsync)";; pg1) l="PostgreSQL, 1 replica";; pg2) l="PostgreSQL, 2 replicas + nginx";; esac
    row "completions/s, $l, wrk" "$(pgf "$n-wrk" 0)" "$(pgf "$n-wrk" 1)" "$(pgf "$n-wrk" 2)" \
      "$([ "$(pgf "$n-wrk" 3)" = ok ] || echo "task list used up: a lower bound; ")non-2xx $(pgf "$n-wrk" 4)"
    row "completions/s, $l, fg-load" "$(pgf "$n-fg" 0)" "" "" \
      "$([ "$(pgf "$n-fg" 1)" = ok ] || echo "task list used up: a lower bound; ")errors $(pgf "$n-fg" 2)"
  done
  row "pgbench -N tps ($CONN clients, same server)" "$pb" "" "" "anchor"
  row "  sessions during PostgreSQL completions" "" "" "" "1 replica: ${PGR[pg1-waits]:-n/a}; 2 replicas: ${PGR[pg2-waits]:-n/a}"
  for gen in wrk fg; do
    c1=$(pgf "pg1-$gen" 0)
    ok=$(check "$c1 >= 0.3*$pb"); okw+=("$ok")
    row "  PostgreSQL completions vs pgbench, $gen" "$(pct "$c1" "$pb")" "" "" "1 replica; 2 replicas $(pct "$(pgf "pg2-$gen" 0)" "$pb") (>=30%: $ok)"
  done
  row "  target: completions >= 30% of pgbench" "" "" "" "$(both "${okw[0]}" "${okw[1]}")"
  row "workflow starts/s: memory / redb / PostgreSQL" "${PGR[seed-memory]} / ${PGR[seed-redb]} / ${PGR[seed-pg]}" "" "" ""
  for gen in wrk oha; do
    for r in 1 2; do
      k=pg-get$r-$gen
      row "GET /task/{id}, PostgreSQL $([ "$r" = 1 ] && echo "1 replica" || echo "2 replicas + nginx"), $gen" "$(field "$k" 3)" "$(field "$k" 4)" "$(field "$k" 5)" \
        "$(field "$k" 8)% of memory mode's $(field "$k" 0) req/s, rounds $(field "$k" 7)%"
    done
  done
  for gen in wrk oha; do
    k=pg-scale-get-$gen
    ok=$(check "$(field "$k" 8) >= 80"); oks+=("$ok")
    row "GET /task/{id}, ${PGR[large-count]} vs $PG_SMALL workflows, $gen" "$(field "$k" 3)" "$(field "$k" 4)" "$(field "$k" 5)" \
      "$(field "$k" 8)% of the small store's $(field "$k" 0) req/s, rounds $(field "$k" 7)% (>=80%: $ok)"
    k=pg-scale-list-$gen
    ok=$(check "$(field "$k" 8) >= 80"); oks+=("$ok")
    row "GET /task?userId= page, same, $gen" "$(field "$k" 3)" "$(field "$k" 4)" "$(field "$k" 5)" \
      "$(field "$k" 8)% of the small store's $(field "$k" 0) req/s, rounds $(field "$k" 7)% (>=80%: $ok)"
  done
  row "  target: scale reads with both generators" "" "" "" "$(both "$(both "${oks[0]}" "${oks[1]}")" "$(both "${oks[2]}" "${oks[3]}")")"
  row "replica start-up to ready (ms), small / large" "${PGR[start-small]} / ${PGR[start-large]}" "" "" \
    "large store: ${PGR[large-size]} in tables, cloned in ${PGR[clone-s]} s"
  row "replica RSS (MB) after start, small / large" "${PGR[rss0-small]} / ${PGR[rss0-large]}" "" "" \
    "after the reads: ${PGR[rss1-small]} / ${PGR[rss1-large]}"
}
