#!/usr/bin/env bash
# The seed's comparison at swarm scale: 1,000 clients against StreamServer and against nginx serving the very same files
# (bench/serve-setup.sh: one 1 MiB CMAF-class segment linked 15 times, a ~600 B playlist; nginx with sendfile and one
# worker per core, as an operator runs it: NGINX_WORKERS=2),
# driven by our load tool, alternating servers. Cases: playlist and segment with raw-qps over 1,000 keep-alive
# connections (QPS), and the vod-abr swarm of 1,000 players at max pace (master, playlist, init, segments; TTFB p99).
# For each: req/s, the ratio ours/nginx, and the server's own CPU per request (utime+stime of its process / requests).
#   DURATION=10 ROUNDS=2 PLAYERS=1000 NGINX_WORKERS=2 bench/swarm.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-2}
PLAYERS=${PLAYERS:-1000}
WORK=bench/.work/swarm
export NGINX_WORKERS=${NGINX_WORKERS:-2}
OURS_PORT=${OURS_PORT:-18491}
NGINX_PORT=${NGINX_PORT:-18492}
NGINX_H2C_PORT=${NGINX_H2C_PORT:-18493}
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true  # 1,000 connections on each side
TOOL=loadtest/bin/Release/net10.0/LoadTest.dll
[ -f "$TOOL" ] || dotnet build loadtest -c Release -v q >/dev/null
source bench/serve-setup.sh
for i in $(seq 1 14); do ln "$VOD/seg_000.m4s" "$VOD/$(printf 'seg_%03d.m4s' "$i")"; done
head -c 900 /dev/urandom > "$VOD/init.mp4"
printf '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-STREAM-INF:BANDWIDTH=2500000,CODECS="avc1.64001f",RESOLUTION=1280x720\nmedia.m3u8\n' > "$VOD/master.m3u8"
start_servers

# utime+stime of a server: the process and its children (nginx's worker is a child of its master).
cpu_ticks() { local t=0; for p in $1 $(pgrep -P "$1" || true); do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $t; }
HZ=$(getconf CLK_TCK)
# run SERVER_PID URL ARGS...: prints "req/s p99-ms server-us-per-request"
run() {
  local pid=$1 url=$2; shift 2
  local before; before=$(cpu_ticks "$pid")
  dotnet "$TOOL" --url "$url" --duration "$DURATION" --quiet "$@" > "$WORK/run.txt" || { cat "$WORK/run.txt" >&2; }
  local after; after=$(cpu_ticks "$pid")
  awk -v t=$((after - before)) -v hz="$HZ" '
    /^requests/ { n = $2; rps = $3; gsub(/[(),\/s]/, "", rps) }
    /^latency (segment )?ms/ && !p99 { for (i = 1; i <= NF; i++) if ($i == "p99") p99 = $(i + 1) }
    END { printf "%s %s %.1f\n", rps, p99, (n > 0 ? t / hz * 1e6 / n : 0) }' "$WORK/run.txt"
}
case_args() {
  case $1 in
    playlist) echo "/vod/bench/media.m3u8 --scenario raw-qps --connections $PLAYERS";;
    segment)  echo "/vod/bench/seg_000.m4s --scenario raw-qps --connections $PLAYERS";;
    swarm)    echo "/vod/bench/master.m3u8 --scenario vod-abr --players $PLAYERS --ramp 3s --pace max --no-abr";;
  esac
}
# Warm-up of both servers and the tool, not measured.
for port in $OURS_PORT $NGINX_PORT; do dotnet "$TOOL" --scenario raw-qps --url "http://127.0.0.1:$port/vod/bench/media.m3u8" --connections 64 --duration 2 >/dev/null || true; done
echo "case      round   nginx req/s  ours req/s   ratio   p99 ms nginx | ours   server CPU us/req nginx | ours"
declare -A SUM
for r in $(seq 1 "$ROUNDS"); do
  for c in playlist segment swarm; do
    read -r path args <<<"$(case_args $c)"
    # shellcheck disable=SC2086
    read -r n np99 ncpu <<<"$(run "$NGINX_PID" "http://127.0.0.1:$NGINX_PORT$path" $args)"
    # shellcheck disable=SC2086
    read -r o op99 ocpu <<<"$(run "$OURS_PID" "http://127.0.0.1:$OURS_PORT$path" $args)"
    printf '%-9s #%-5s %11.0f %11.0f %6.2fx   %8s | %-8s   %10s | %s\n' "$c" "$r" "$n" "$o" "$(awk -v a="$n" -v b="$o" 'BEGIN {print b/a}')" "$np99" "$op99" "$ncpu" "$ocpu"
    SUM[$c-n]=$(awk -v a="${SUM[$c-n]:-0}" -v b="$n" 'BEGIN {print a+b}'); SUM[$c-o]=$(awk -v a="${SUM[$c-o]:-0}" -v b="$o" 'BEGIN {print a+b}')
    SUM[$c-nc]=$(awk -v a="${SUM[$c-nc]:-0}" -v b="$ncpu" 'BEGIN {print a+b}'); SUM[$c-oc]=$(awk -v a="${SUM[$c-oc]:-0}" -v b="$ocpu" 'BEGIN {print a+b}')
  done
done
for c in playlist segment swarm; do
  printf '%-9s mean   %11.0f %11.0f %6.2fx   server CPU per request ours/nginx %.2fx\n' "$c" \
    "$(awk -v s="${SUM[$c-n]}" -v k="$ROUNDS" 'BEGIN {print s/k}')" "$(awk -v s="${SUM[$c-o]}" -v k="$ROUNDS" 'BEGIN {print s/k}')" \
    "$(awk -v a="${SUM[$c-n]}" -v b="${SUM[$c-o]}" 'BEGIN {print b/a}')" "$(awk -v a="${SUM[$c-nc]}" -v b="${SUM[$c-oc]}" 'BEGIN {print (a > 0 ? b/a : 0)}')"
done
