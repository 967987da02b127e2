#!/usr/bin/env bash
# Serving vs nginx: the same files (a 1 MiB-class CMAF segment and a ~600 B playlist) served by
# Debian's nginx (1 worker, sendfile on, tcp_nopush on, access_log off) and by StreamServer (Release),
# driven by the same wrk (HTTP/1.1, 32 connections) and h2load (h2c, -c32 -m4), alternating runs in
# one go. Prints req/s per run and the ratio ours/nginx, then a 60 s run on ours checking gen2 GCs
# and managed bytes allocated per request from /metrics.
#   DURATION=10 ROUNDS=2 LONG=60 bench/serve.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-2}
LONG=${LONG:-60}
WORK=bench/.work/serve
OURS_PORT=${OURS_PORT:-18481}
NGINX_PORT=${NGINX_PORT:-18482}
NGINX_H2C_PORT=${NGINX_H2C_PORT:-18483}
for tool in nginx wrk h2load curl; do command -v $tool >/dev/null || { echo "missing $tool" >&2; exit 1; }; done

DLL=src/StreamServer/bin/Release/net10.0/StreamServer.dll
[ -f "$DLL" ] || dotnet build src/StreamServer -c Release -v q >/dev/null

rm -rf "$WORK"; mkdir -p "$WORK/data/vod/bench" "$WORK/www/vod" "$WORK/nginx"
VOD="$WORK/data/vod/bench"
head -c 1048576 /dev/urandom > "$VOD/seg_000.m4s"
{
  echo "#EXTM3U"; echo "#EXT-X-VERSION:7"; echo "#EXT-X-TARGETDURATION:4"; echo "#EXT-X-PLAYLIST-TYPE:VOD"
  echo "#EXT-X-INDEPENDENT-SEGMENTS"; echo '#EXT-X-MAP:URI="init.mp4"'
  for i in $(seq 0 14); do printf '#EXTINF:4.000000,\nseg_%03d.m4s\n' "$i"; done
  echo "#EXT-X-ENDLIST"
} > "$VOD/media.m3u8"
cp -r "$VOD" "$WORK/www/vod/bench"
ABS=$(cd "$WORK" && pwd)

cat > "$WORK/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $ABS/nginx/nginx.pid;
error_log $ABS/nginx/error.log warn;
events { worker_connections 4096; }
http {
  types { application/vnd.apple.mpegurl m3u8; application/dash+xml mpd; video/mp4 mp4; video/iso.segment m4s; image/jpeg jpg; text/vtt vtt; }
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  client_body_temp_path $ABS/nginx/tmp; proxy_temp_path $ABS/nginx/tmp; fastcgi_temp_path $ABS/nginx/tmp;
  uwsgi_temp_path $ABS/nginx/tmp; scgi_temp_path $ABS/nginx/tmp;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    listen 127.0.0.1:$NGINX_H2C_PORT http2;
    root $ABS/www;
    location /vod/ {
      add_header Cache-Control "public, max-age=31536000, immutable";
      add_header Access-Control-Allow-Origin "*";
    }
  }
}
CONF
mkdir -p "$WORK/nginx/tmp"

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
nginx -c "$ABS/nginx/nginx.conf" -p "$ABS/nginx" & PIDS+=($!)
dotnet "$DLL" --StreamServer:DataDir="$ABS/data" --StreamServer:ListenAddress=127.0.0.1 --StreamServer:HttpPort=$OURS_PORT \
  --StreamServer:HttpsPort=-1 --StreamServer:GenerateSample=false --Logging:LogLevel:Default=Warning > "$WORK/server.log" 2>&1 & PIDS+=($!)
for i in $(seq 1 100); do
  curl -sf -o /dev/null "http://127.0.0.1:$OURS_PORT/vod/bench/media.m3u8" && curl -sf -o /dev/null "http://127.0.0.1:$NGINX_PORT/vod/bench/media.m3u8" && break
  sleep 0.2
done
cmp <(curl -s "http://127.0.0.1:$OURS_PORT/vod/bench/seg_000.m4s") <(curl -s "http://127.0.0.1:$NGINX_PORT/vod/bench/seg_000.m4s")
cmp <(curl -s --http2-prior-knowledge "http://127.0.0.1:$OURS_PORT/vod/bench/media.m3u8") <(curl -s --http2-prior-knowledge "http://127.0.0.1:$NGINX_H2C_PORT/vod/bench/media.m3u8")

wrk_rps() { wrk -t2 -c32 -d"${DURATION}s" "$1" | awk '/Requests\/sec/ {print $2}'; }
h2_rps() { h2load -c32 -m4 -t2 -D "$DURATION" "$1" 2>/dev/null | awk '/^finished in/ {print $4}'; }
# Warm-up (JIT tiering, caches, connection pools) for both servers, not measured.
wrk -t2 -c32 -d3s "http://127.0.0.1:$OURS_PORT/vod/bench/media.m3u8" >/dev/null; wrk -t2 -c32 -d2s "http://127.0.0.1:$OURS_PORT/vod/bench/seg_000.m4s" >/dev/null
h2load -c32 -m4 -D 2 "http://127.0.0.1:$OURS_PORT/vod/bench/media.m3u8" >/dev/null 2>&1
wrk -t2 -c32 -d2s "http://127.0.0.1:$NGINX_PORT/vod/bench/media.m3u8" >/dev/null
declare -A SUM
echo "run            nginx req/s   ours req/s   ratio"
for r in $(seq 1 "$ROUNDS"); do
  for test in segment playlist h2c; do
    case $test in
      segment)  n=$(wrk_rps "http://127.0.0.1:$NGINX_PORT/vod/bench/seg_000.m4s"); o=$(wrk_rps "http://127.0.0.1:$OURS_PORT/vod/bench/seg_000.m4s");;
      playlist) o=$(wrk_rps "http://127.0.0.1:$OURS_PORT/vod/bench/media.m3u8"); n=$(wrk_rps "http://127.0.0.1:$NGINX_PORT/vod/bench/media.m3u8");;
      h2c)      n=$(h2_rps "http://127.0.0.1:$NGINX_H2C_PORT/vod/bench/media.m3u8"); o=$(h2_rps "http://127.0.0.1:$OURS_PORT/vod/bench/media.m3u8");;
    esac
    printf "%-9s #%d  %12.0f %12.0f   %5.2fx\n" "$test" "$r" "$n" "$o" "$(echo "$o / $n" | bc -l)"
    SUM[$test-n]=$(echo "${SUM[$test-n]:-0} + $n" | bc -l); SUM[$test-o]=$(echo "${SUM[$test-o]:-0} + $o" | bc -l)
  done
done
[ "$ROUNDS" -gt 0 ] && echo "--- mean over $ROUNDS rounds (${DURATION}s each, alternating)"
[ "$ROUNDS" -gt 0 ] && for test in segment playlist h2c; do
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
