# Helpers of bench/run.sh: ports, load generators, paired rounds, nginx, the table.
# Sourced, not run. Expects OUT, CONN, THREADS, DUR, WARMUP, ROUNDS, AUTH, LOAD and RUN.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

wait_http() { # url
  for _ in $(seq 1 200); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.05
  done
  echo "server at $1 did not come up" >&2; return 1
}

# One load generator's run as "rps p50_ms p99_ms non2xx". A short unmeasured run comes
# first, with the same load: a server that has just been seeded (or just started) spends
# its first moments returning memory, filling caches and pools, which is not its steady
# state.
wrk_run() { # name url
  local name=$1 url=$2
  "${LOAD[@]}" wrk -t"$THREADS" -c"$CONN" -d"$WARMUP" -H "$AUTH" "$url" > /dev/null 2>&1 || true
  "${LOAD[@]}" wrk -t"$THREADS" -c"$CONN" -d"$DUR" --latency -H "$AUTH" "$url" > "$OUT/$name.wrk" 2>&1
  awk '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    /Requests\/sec/ { rps=$2 }
    $1=="50%" { p50=ms($2) } $1=="99%" { p99=ms($2) }
    /Non-2xx/ { bad=$NF }
    END { printf "%.0f %.3f %.3f %s\n", rps, p50, p99, (bad==""?0:bad) }' "$OUT/$name.wrk"
}

oha_run() { # name url
  local name=$1 url=$2
  "${LOAD[@]}" oha -z "$WARMUP" -c "$CONN" --no-tui -H "$AUTH" "$url" > /dev/null 2>&1 || true
  "${LOAD[@]}" oha -z "$DUR" -c "$CONN" --no-tui --output-format json -H "$AUTH" "$url" \
    > "$OUT/$name.oha.json" 2> "$OUT/$name.oha.err"
  python3 - "$OUT/$name.oha.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
p = d["latencyPercentiles"]
bad = sum(n for code, n in d["statusCodeDistribution"].items() if not code.startswith("2"))
print(f'{d["summary"]["requestsPerSec"]:.0f} {1000 * (p["p50"] or 0):.3f} {1000 * (p["p99"] or 0):.3f} {bad}')
PY
}

gen_run() { # wrk|oha name url
  case "$1" in
    wrk) wrk_run "$2-wrk" "$3" ;;
    oha) oha_run "$2-oha" "$3" ;;
  esac
}

# A measurement and its reference (the stack baseline, nginx in front of a simulator, the
# small store's list page), alternated for $ROUNDS rounds with one load generator, so that
# both see the same machine: on shared cores the speed drifts by a quarter within
# minutes, which a reference measured once, minutes earlier, would turn into the result.
# Prints "ref_rps ref_p50 ref_p99 rps p50 p99 non2xx ratios median_ratio": medians over
# the rounds (non2xx: the most either side had in a round) and the per-round throughput
# ratios in percent, joined by "/".
paired() { # gen ref_name ref_url ref_auth name url auth
  local i a b rows=()
  for i in $(seq 1 "$ROUNDS"); do
    a=$(AUTH=$4 gen_run "$1" "$2-$i" "$3")
    b=$(AUTH=$7 gen_run "$1" "$5-$i" "$6")
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

# The same at one connection: latency without queueing ("rps p50 p99 non2xx"). With 64
# closed-loop connections every side runs saturated and its median is queueing, about
# connections / rate (Little's law); the added latency of a proxy is read here.
c1_run() { # gen name url auth
  local c=$CONN t=$THREADS r
  CONN=1; THREADS=1
  r=$(AUTH=$4 gen_run "$1" "$2" "$3")
  CONN=$c; THREADS=$t
  echo "$r"
}

# nginx in front of one upstream, with upstream keep-alive: the anchor of the adapter rows.
# The upstream path is passed unchanged. Sets NGINX_PID.
start_nginx() { # name listen_port upstream_port
  local dir="$OUT/nginx-$1"
  mkdir -p "$dir/tmp"
  cat > "$dir/nginx.conf" <<EOF
daemon off;
worker_processes auto;
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
  upstream sim { server 127.0.0.1:$3; keepalive 128; }
  server {
    listen 127.0.0.1:$2;
    location / {
      proxy_pass http://sim;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
    }
  }
}
EOF
  "${RUN[@]}" nginx -p "$dir" -c "$dir/nginx.conf" > "$dir/stdout.log" 2>&1 &
  NGINX_PID=$!; PIDS+=("$NGINX_PID")
}

rss_mb() { awk '/VmRSS/ { printf "%.1f", $2/1024 }' "/proc/$1/status"; }

row() { printf '| %-46s | %12s | %9s | %9s | %s\n' "$1" "$2" "$3" "$4" "$5" | tee -a "$OUT/results.md"; }
pct() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{100*a/b:.0f}%' if b else 'n/a')" "$1" "$2"; }
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}x' if b else 'n/a')" "$1" "$2"; }
check() { python3 -c "import sys; print('ok' if eval(sys.argv[1]) else 'MISSED')" "$1"; }
both() { [ "$1" = ok ] && [ "$2" = ok ] && echo ok || echo MISSED; }
minus() { python3 -c "import sys; print(f'{float(sys.argv[1])-float(sys.argv[2]):.3f}')" "$1" "$2"; }
