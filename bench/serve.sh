#!/usr/bin/env bash
# Serving vs nginx: the same files (a 1 MiB-class CMAF segment and a ~600 B playlist) served by
# Debian's nginx (1 worker, sendfile on, tcp_nopush on, access_log off) and by StreamServer (Release),
# driven by the same wrk (HTTP/1.1, 32 connections) and h2load (h2c, -c32 -m4), alternating runs in
# one go; h2c-seg is the 1 MiB segment over h2c (h2load -c4 -m8). Prints req/s per run and the ratio
# ours/nginx, then a 60 s run on ours checking gen2 GCs and managed bytes allocated per request from /metrics.
#   DURATION=10 ROUNDS=2 LONG=60 [OURS_ENV="StreamServer__Transport__X=..."] [TESTS="segment playlist h2c h2c-seg"] bench/serve.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-2}
LONG=${LONG:-60}
TESTS=${TESTS:-segment playlist h2c h2c-seg}
WORK=bench/.work/serve
OURS_PORT=${OURS_PORT:-18481}
NGINX_PORT=${NGINX_PORT:-18482}
NGINX_H2C_PORT=${NGINX_H2C_PORT:-18483}
source bench/serve-setup.sh
start_servers ${OURS_ENV:-}

wrk_rps() { wrk -t2 -c32 -d"${DURATION}s" "$1" | awk '/Requests\/sec/ {print $2}'; }
h2_rps() { h2load -c32 -m4 -t2 -D "$DURATION" "$1" 2>/dev/null | awk '/^finished in/ {print $4}'; }
h2seg_rps() { h2load -c4 -m8 -t2 -D "$DURATION" "$1" 2>/dev/null | awk '/^finished in/ {print $4}'; }
# Warm-up (JIT tiering, caches, connection pools) for both servers, not measured.
wrk -t2 -c32 -d3s "http://127.0.0.1:$OURS_PORT/vod/bench/media.m3u8" >/dev/null; wrk -t2 -c32 -d2s "http://127.0.0.1:$OURS_PORT/vod/bench/seg_000.m4s" >/dev/null
h2load -c32 -m4 -D 2 "http://127.0.0.1:$OURS_PORT/vod/bench/media.m3u8" >/dev/null 2>&1
wrk -t2 -c32 -d2s "http://127.0.0.1:$NGINX_PORT/vod/bench/media.m3u8" >/dev/null
declare -A SUM
echo "run            nginx req/s   ours req/s   ratio"
for r in $(seq 1 "$ROUNDS"); do
  for test in $TESTS; do
    case $test in
      segment)  n=$(wrk_rps "http://127.0.0.1:$NGINX_PORT/vod/bench/seg_000.m4s"); o=$(wrk_rps "http://127.0.0.1:$OURS_PORT/vod/bench/seg_000.m4s");;
      playlist) o=$(wrk_rps "http://127.0.0.1:$OURS_PORT/vod/bench/media.m3u8"); n=$(wrk_rps "http://127.0.0.1:$NGINX_PORT/vod/bench/media.m3u8");;
      h2c)      n=$(h2_rps "http://127.0.0.1:$NGINX_H2C_PORT/vod/bench/media.m3u8"); o=$(h2_rps "http://127.0.0.1:$OURS_PORT/vod/bench/media.m3u8");;
      h2c-seg)  o=$(h2seg_rps "http://127.0.0.1:$OURS_PORT/vod/bench/seg_000.m4s"); n=$(h2seg_rps "http://127.0.0.1:$NGINX_H2C_PORT/vod/bench/seg_000.m4s");;
    esac
    printf "%-9s #%d  %12.0f %12.0f   %5.2fx\n" "$test" "$r" "$n" "$o" "$(echo "$o / $n" | bc -l)"
    SUM[$test-n]=$(echo "${SUM[$test-n]:-0} + $n" | bc -l); SUM[$test-o]=$(echo "${SUM[$test-o]:-0} + $o" | bc -l)
  done
done
[ "$ROUNDS" -gt 0 ] && echo "--- mean over $ROUNDS rounds (${DURATION}s each, alternating)"
[ "$ROUNDS" -gt 0 ] && for test in $TESTS; do
  printf "%-9s      %12.0f %12.0f   %5.2fx\n" "$test" "$(echo "${SUM[$test-n]} / $ROUNDS" | bc -l)" "$(echo "${SUM[$test-o]} / $ROUNDS" | bc -l)" "$(echo "${SUM[$test-o]} / ${SUM[$test-n]}" | bc -l)"
done

metric() { curl -s "http://127.0.0.1:$OURS_PORT/metrics" | awk -v m="$1" 'index($0, m) == 1 {print $NF}' | head -1; }
if [ "$LONG" -gt 0 ]; then
  # 60 s on ours: playlists (24 connections) and segments (8 connections) at once.
  gen2_before=$(metric 'streamserver_dotnet_gc_collections_total{gc_heap_generation="gen2"}')
  metric 'streamserver_http_allocated_bytes_per_request ' >/dev/null  # opens the allocation window
  wrk -t1 -c24 -d"${LONG}s" "http://127.0.0.1:$OURS_PORT/vod/bench/media.m3u8" > "$WORK/long-playlist.txt" & WRK_PID=$!
  wrk -t1 -c8 -d"${LONG}s" "http://127.0.0.1:$OURS_PORT/vod/bench/seg_000.m4s" > "$WORK/long-segment.txt"
  wait "$WRK_PID"
  alloc=$(metric 'streamserver_http_allocated_bytes_per_request ')
  gen2_after=$(metric 'streamserver_dotnet_gc_collections_total{gc_heap_generation="gen2"}')
  p=$(awk '/Requests\/sec/ {print $2}' "$WORK/long-playlist.txt"); sg=$(awk '/Requests\/sec/ {print $2}' "$WORK/long-segment.txt")
  echo "--- ${LONG}s run on ours (playlists 24 conns + segments 8 conns at once): $p + $sg req/s, gen2 GCs during run: $((${gen2_after%.*} - ${gen2_before%.*})), managed alloc per request (whole process): $alloc B"
fi
