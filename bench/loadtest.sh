#!/usr/bin/env bash
# Is loadtest/ a load tool or the bottleneck? Its raw-qps scenario against wrk on the same URLs of one StreamServer
# (a ~600 B playlist and a 1 MiB segment), same connections and duration, alternating: req/s of each and the ratio
# ours/wrk (target >= 0.8x), our tool's CPU per request, and its latency percentiles next to wrk's. Then h2c: the same
# playlist and segment with h2load -c$CONNECTIONS -m4 against `raw-qps --http2 --streams 4` (the tool's own HTTP/2
# framing), over h2c and over TLS (h2, the server's self-signed certificate).
#   DURATION=8 ROUNDS=2 CONNECTIONS=32 bench/loadtest.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-8}
ROUNDS=${ROUNDS:-2}
CONNECTIONS=${CONNECTIONS:-32}
PORT=${PORT:-18691}
WORK=bench/.work/loadtest
for tool in wrk h2load curl; do command -v $tool >/dev/null || { echo "missing $tool" >&2; exit 1; }; done
TOOL=loadtest/bin/Release/net10.0/LoadTest.dll
[ -f "$TOOL" ] || dotnet build loadtest -c Release -v q >/dev/null
source bench/streamserver.sh
rm -rf "$WORK"; mkdir -p "$WORK/data/vod/bench"
ABS=$(cd "$WORK" && pwd)
dd if=/dev/urandom of="$WORK/data/vod/bench/seg_000.m4s" bs=1M count=1 status=none
{ echo "#EXTM3U"; echo "#EXT-X-VERSION:7"; echo "#EXT-X-TARGETDURATION:4"; echo '#EXT-X-MAP:URI="init.mp4"'
  for i in $(seq 0 14); do printf '#EXTINF:4.000000,\nseg_%03d.m4s\n' "$i"; done; echo "#EXT-X-ENDLIST"; } > "$WORK/data/vod/bench/media.m3u8"
TLS_PORT=$((PORT + 1))
start_streamserver "$ABS/data" "$PORT" --StreamServer:Tracing:Enabled=false --StreamServer:HttpsPort="$TLS_PORT"
trap 'kill $PID 2>/dev/null; wait 2>/dev/null || true' EXIT
wait_for_url "http://127.0.0.1:$PORT/vod/bench/media.m3u8"

wrk_run() { wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$1" > "$WORK/wrk.txt"; awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt"; }
ours_run() { dotnet "$TOOL" --scenario raw-qps --url "$1" --connections "$CONNECTIONS" --duration "$DURATION" > "$WORK/ours.txt" || true
  awk '/^requests/ {gsub(/[(),\/s]/, "", $3); print $3}' "$WORK/ours.txt"; }
echo "case       round   wrk req/s   ours req/s   ratio   ours tool CPU us/req   p50/p99 ms wrk | ours"
for name in playlist segment; do
  path=/vod/bench/media.m3u8; [ "$name" = segment ] && path=/vod/bench/seg_000.m4s
  url="http://127.0.0.1:$PORT$path"
  wrk -t2 -c"$CONNECTIONS" -d2s "$url" >/dev/null; dotnet "$TOOL" --scenario raw-qps --url "$url" --connections "$CONNECTIONS" --duration 2 >/dev/null || true
  sw=0; so=0
  for r in $(seq 1 "$ROUNDS"); do
    w=$(wrk_run "$url"); o=$(ours_run "$url")
    wl=$(awk '/ 50%/ {a=$2} / 99%/ {b=$2} END {print a "/" b}' "$WORK/wrk.txt")
    ol=$(awk '/^latency/ {print $4 "ms/" $8 "ms"}' "$WORK/ours.txt")
    cpu=$(awk '/^tool CPU/ {print $3}' "$WORK/ours.txt")
    printf '%-10s #%-5s %10.0f %12.0f %7.2fx %22s   %s | %s\n' "$name" "$r" "$w" "$o" "$(awk -v a="$w" -v b="$o" 'BEGIN {print b/a}')" "$cpu" "$wl" "$ol"
    sw=$(awk -v a="$sw" -v b="$w" 'BEGIN {print a+b}'); so=$(awk -v a="$so" -v b="$o" 'BEGIN {print a+b}')
  done
  printf '%-10s mean   %10.0f %12.0f %7.2fx   (target >= 0.80x)\n' "$name" "$(awk -v s="$sw" -v n="$ROUNDS" 'BEGIN {print s/n}')" "$(awk -v s="$so" -v n="$ROUNDS" 'BEGIN {print s/n}')" "$(awk -v a="$sw" -v b="$so" 'BEGIN {print b/a}')"
done

echo "http/2     round   h2load req/s  ours req/s   ratio   ours tool CPU us/req"
for proto in h2c h2; do
for name in playlist segment; do
  path=/vod/bench/media.m3u8; [ "$name" = segment ] && path=/vod/bench/seg_000.m4s
  url="http://127.0.0.1:$PORT$path"; [ "$proto" = h2 ] && url="https://127.0.0.1:$TLS_PORT$path"
  sh=0; so=0
  for r in $(seq 1 "$ROUNDS"); do
    h=$(h2load -c"$CONNECTIONS" -m4 -t2 -D "$DURATION" "$url" 2>/dev/null | awk '/^finished in/ {print $4}')
    dotnet "$TOOL" --scenario raw-qps --http2 --streams 4 --url "$url" --connections "$CONNECTIONS" --duration "$DURATION" > "$WORK/ours.txt" || true
    o=$(awk '/^requests/ {gsub(/[(),\/s]/, "", $3); print $3}' "$WORK/ours.txt"); cpu=$(awk '/^tool CPU/ {print $3}' "$WORK/ours.txt")
    printf '%-10s #%-5s %12.0f %11.0f %7.2fx %22s\n' "$proto $name" "$r" "$h" "$o" "$(awk -v a="$h" -v b="$o" 'BEGIN {print b/a}')" "$cpu"
    sh=$(awk -v a="$sh" -v b="$h" 'BEGIN {print a+b}'); so=$(awk -v a="$so" -v b="$o" 'BEGIN {print a+b}')
  done
  printf '%-10s mean   %12.0f %11.0f %7.2fx   (target >= 0.80x)\n' "$proto $name" "$(awk -v s="$sh" -v n="$ROUNDS" 'BEGIN {print s/n}')" "$(awk -v s="$so" -v n="$ROUNDS" 'BEGIN {print s/n}')" "$(awk -v a="$sh" -v b="$so" 'BEGIN {print b/a}')"
done
done
