#!/usr/bin/env bash
# smoke-test figures for scripts/bench, against a local nginx (Debian's) on loopback (release
# binaries in $DK_BIN_DIR; rows through scripts/bench's `figure`, or target/bench/figures.jsonl when run alone):
#
#   (a) checked requests per second at concurrency 50: a load block of N GETs, each checked for
#       status 200 and a JSONPath equality — beside hurl 8.0.1 running the same checks
#       (`--parallel --jobs 50 --repeat N`). Goal ≥ 3× hurl.
#   (b) p95 latency of the same URL at concurrency 50, beside wrk's (Lua `latency:percentile(95)`).
#       Goal within 10 %.
#
# Needs nginx and wrk (apt-get install nginx-light wrk) and hurl 8.0.1, built once into
# $DK_CACHE/hurl (cargo install hurl@8.0.1 --locked; needs libclang-dev and libcurl4-openssl-dev);
# oha 1.16.0 in $DK_CACHE/oha (cargo install oha@1.16.0 --locked) adds a second p95 peer.
#
#   DK_BIN_DIR=target/release crates/smoke-test/bench.sh       # N=20000 by default
#   NO_HURL=1 N=5000 crates/smoke-test/bench.sh                 # without hurl (no build)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=${DK_BIN_DIR:-$here/target/release}
out=${DK_BENCH_OUT:-$here/target/bench}
cache=${DK_CACHE:-$HOME/.cache/deploy-kit}
n=${N:-20000}
mkdir -p "$out"
[ -x "$bin/smoke-test" ] || { echo "bench.sh: $bin/smoke-test is missing; cargo build --release -p smoke-test" >&2; exit 2; }
# scripts/bench's table row (scripts/figures.py), also when this runs alone.
declare -F figure >/dev/null || figure() { python3 "$here/scripts/figures.py" add "$out/figures.jsonl" "$@"; }
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || { echo "bench.sh: nginx is missing (apt-get install nginx-light)" >&2; exit 2; }
hurl="$cache/hurl/bin/hurl"
if [ -n "${NO_HURL:-}" ]; then
  hurl=
elif [ ! -x "$hurl" ]; then
  echo "bench.sh: building hurl 8.0.1 into $cache/hurl (a few minutes, once)" >&2
  cargo install hurl@8.0.1 --locked --quiet --root "$cache/hurl" || hurl=
fi

work=$(mktemp -d)
cleanup() { [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
cat > "$work/nginx.conf" <<CONF
worker_processes 2;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 100000;
  server {
    listen 127.0.0.1:$port;
    location /health { default_type application/json; return 200 '{"status":"ok","version":"1.4.2"}'; }
  }
}
CONF
"$nginx" -c "$work/nginx.conf" -p "$work"
url="http://127.0.0.1:$port/health"

cat > "$work/load.yml" <<SPEC
checks:
  - name: load
    url: $url
    expect:
      status: 200
      json: [{path: \$.status, equals: ok}]
    load: {requests: $n, concurrency: 50}
SPEC
cat > "$work/check.hurl" <<HURL
GET $url
HTTP 200
[Asserts]
jsonpath "\$.status" == "ok"
HURL

t0=$(date +%s.%N)
"$bin/smoke-test" "$work/load.yml" --output json -q > "$work/ours.json"
t1=$(date +%s.%N)
ours_rps=$(python3 -c "print(round($n/($t1-$t0)))")
ours_p95=$(python3 -c "import json;print(json.load(open('$work/ours.json'))['p95_ms'])")
if [ -n "$hurl" ]; then
  t0=$(date +%s.%N)
  "$hurl" --test --parallel --jobs 50 --repeat "$n" "$work/check.hurl" >/dev/null 2>&1
  t1=$(date +%s.%N)
  hurl_rps=$(python3 -c "print(round($n/($t1-$t0)))")
  figure smoke-rps "smoke-test checked requests/s at concurrency 50, $n requests (nginx)" req/s "$ours_rps" \
    "hurl 8.0.1 (same checks)" "$hurl_rps" --goal "ratio>=3"
else
  figure smoke-rps "smoke-test checked requests/s at concurrency 50, $n requests (nginx)" req/s "$ours_rps" \
    "hurl 8.0.1 (same checks)" "" --goal "ratio>=3" --note "hurl not built"
fi
# The same p95 from oha 1.16.0 (a Rust load generator on hyper and tokio, as smoke-test is), when
# scripts/bench has installed it into $DK_CACHE/oha: ratios against both peers are shown.
oha="$cache/oha/bin/oha"
if [ -x "$oha" ]; then
  oha_p95=$("$oha" -n "$n" -c 50 --no-tui --output-format json "$url" |
    python3 -c 'import json,sys;print("%.1f" % (json.load(sys.stdin)["latencyPercentiles"]["p95"] * 1000))')
  figure smoke-p95-oha "smoke-test p95 latency at concurrency 50 (nginx, same URL)" ms "$ours_p95" "oha 1.16.0" "$oha_p95" \
    --goal "ratio~0.10"
fi
if command -v wrk >/dev/null; then
  cat > "$work/p95.lua" <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("p95_us %d\n", latency:percentile(95)))
end
LUA
  wrk_p95=$(wrk -t2 -c50 -d10s -s "$work/p95.lua" "$url" | awk '/^p95_us/ {printf "%.1f", $2/1000}')
  figure smoke-p95 "smoke-test p95 latency at concurrency 50 (nginx, same URL)" ms "$ours_p95" "wrk" "$wrk_p95" --goal "ratio~0.10"
else
  figure smoke-p95 "smoke-test p95 latency at concurrency 50 (nginx, same URL)" ms "$ours_p95" "wrk" "" --goal "ratio~0.10" \
    --note "wrk not installed"
fi
