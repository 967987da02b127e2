#!/usr/bin/env bash
# One origin alone vs the same origin behind an nginx proxy_cache tier (the docs/scale-out.md config, 2 workers), on
# loopback: wrk -t2 -c64 for DURATION seconds on a ~600 B playlist and a 1 MiB segment, first to the origin, then
# through the warm cache. Prints req/s, the ratio, and how many requests reached the origin during the cached run.
#   DURATION=10 bench/cdn.sh
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in nginx wrk curl; do command -v $tool >/dev/null || { echo "missing $tool" >&2; exit 1; }; done
WORK=$(mktemp -d)
chmod 755 "$WORK" # nginx workers (www-data when started as root) write the cache under it
ORIGIN=18790
CACHE=18791
DURATION=${DURATION:-10}
mkdir -p "$WORK/data/vod/b" "$WORK/nginx/tmp"
head -c 1048576 /dev/urandom > "$WORK/data/vod/b/seg_000.m4s"
{ echo "#EXTM3U"; echo "#EXT-X-TARGETDURATION:4"; for i in $(seq 0 14); do printf '#EXTINF:4.000000,\nseg_%03d.m4s\n' "$i"; done; echo "#EXT-X-ENDLIST"; } \
  > "$WORK/data/vod/b/media.m3u8"
sed -e "s|@WORK@|$WORK/nginx|g" -e "s|@WORKERS@|2|" -e "s|@LISTEN@|127.0.0.1:$CACHE|" -e "s|@ORIGINS@|server 127.0.0.1:$ORIGIN;|" \
  ops/nginx/cache-tier.conf.template > "$WORK/nginx/nginx.conf"
source bench/streamserver.sh
start_streamserver "$WORK/data" "$ORIGIN"
SERVER=$PID
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" & NGINX=$!
trap 'cat "$WORK/nginx/error.log" 2>/dev/null | tail -3 >&2; kill $SERVER $NGINX 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
wait_for_url "http://127.0.0.1:$ORIGIN/vod/b/media.m3u8"
wait_for_url "http://127.0.0.1:$CACHE/vod/b/media.m3u8"
curl -sf -o /dev/null "http://127.0.0.1:$CACHE/vod/b/seg_000.m4s"

origin_requests() { curl -s "http://127.0.0.1:$ORIGIN/metrics" | awk '/^streamserver_http_requests_total\{/ && /kind="(playlist|segment)"/ { s += $NF } END { print s + 0 }'; }
rate() { wrk -t2 -c64 -d"${DURATION}s" "$1" | awk '/Requests\/sec/ { print $2 }'; }
printf '%-10s %14s %14s %8s %22s\n' file "origin req/s" "cache req/s" ratio "origin requests (cached)"
for file in media.m3u8 seg_000.m4s; do
  direct=$(rate "http://127.0.0.1:$ORIGIN/vod/b/$file")
  before=$(origin_requests)
  cached=$(rate "http://127.0.0.1:$CACHE/vod/b/$file")
  after=$(origin_requests)
  printf '%-10s %14.0f %14.0f %7.2fx %22d\n' "$file" "$direct" "$cached" "$(echo "$cached / $direct" | bc -l)" "$((after - before))"
done
