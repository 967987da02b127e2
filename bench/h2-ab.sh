#!/usr/bin/env bash
# HTTP/2 send path A/B on our server alone: the same files (1 MiB segment, ~600 B playlist) over h2c and h2 (TLS),
# h2load per case, alternating two configurations of ours in one go (A = "before" settings, B = defaults unless given).
# Per run: req/s, server CPU us per request (utime+stime from /proc), managed bytes allocated per request (the
# server's own /metrics gauge, whole process, minus transport pool growth). Prints the means and B/A ratios.
#   DURATION=6 ROUNDS=3 [A_ENV=...] [B_ENV=...] [CASES="h2c-playlist h2c-segment h2-playlist h2-segment"] bench/h2-ab.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-6}
ROUNDS=${ROUNDS:-3}
A_ENV=${A_ENV:-StreamServer__Transport__DirectSocketSend=false StreamServer__Transport__BlockBytes=0 StreamServer__Transport__Http2WholeBodyBytes=0 StreamServer__Transport__MaxWriteBufferBytes=65536}
B_ENV=${B_ENV:-}
PORT=${PORT:-18591}
TLS_PORT=${TLS_PORT:-18592}
WORK=bench/.work/h2-ab
for tool in h2load curl; do command -v $tool >/dev/null || { echo "missing $tool" >&2; exit 1; }; done
DLL=src/StreamServer/bin/Release/net10.0/StreamServer.dll
[ -f "$DLL" ] || dotnet build src/StreamServer -c Release -v q >/dev/null
rm -rf "$WORK"; mkdir -p "$WORK/data/vod/bench"
ABS=$(cd "$WORK" && pwd)
dd if=/dev/urandom of="$WORK/data/vod/bench/seg_000.m4s" bs=1M count=1 status=none
{ echo "#EXTM3U"; echo "#EXT-X-VERSION:7"; echo "#EXT-X-TARGETDURATION:4"; echo '#EXT-X-MAP:URI="init.mp4"'
  for i in $(seq 0 14); do printf '#EXTINF:4.000000,\nseg_%03d.m4s\n' "$i"; done; echo "#EXT-X-ENDLIST"; } > "$WORK/data/vod/bench/media.m3u8"
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT
start() {
  env $1 dotnet "$DLL" --StreamServer:DataDir="$ABS/data" --StreamServer:ListenAddress=127.0.0.1 --StreamServer:RtmpPort=-1 --StreamServer:Live:TestChannel=false --StreamServer:HttpPort=$PORT \
    --StreamServer:HttpsPort=$TLS_PORT --StreamServer:GenerateSample=false --StreamServer:Tracing:Enabled=false \
    --Logging:LogLevel:Default=Warning > "$WORK/server.log" 2>&1 & PID=$!
  for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/vod/bench/media.m3u8" && break; sleep 0.2; done
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=; }
alloc() { curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^streamserver_http_allocated_bytes_per_request / {print $2}'; }
# Transport pool bytes (rented + free): blocks created when the bytes in flight reach a new peak are kept for reuse,
# not per-request garbage, so their growth during a run is taken out of the allocation figure.
pool() { curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^streamserver_transport_pool_bytes\{/ {s += $2} END {print s + 0}'; }
ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
HZ=$(getconf CLK_TCK)
CASES=${CASES:-h2c-playlist h2c-segment h2-playlist h2-segment}
url() { case $1 in
  h2c-playlist) echo "http://127.0.0.1:$PORT/vod/bench/media.m3u8";; h2c-segment) echo "http://127.0.0.1:$PORT/vod/bench/seg_000.m4s";;
  h2-playlist) echo "https://127.0.0.1:$TLS_PORT/vod/bench/media.m3u8";; h2-segment) echo "https://127.0.0.1:$TLS_PORT/vod/bench/seg_000.m4s";; esac; }
shape() { case $1 in *playlist) echo "-c32 -m4 -t2";; *) echo "-c4 -m8 -t2";; esac; }
declare -A REQ CPU ALLOC
printf "%-6s %-14s %10s %12s %12s\n" run case "req/s" "CPU us/req" "alloc B/req"
for r in $(seq 1 "$ROUNDS"); do
  for cfg in A B; do
    if [ $cfg = A ]; then start "$A_ENV"; else start "$B_ENV"; fi
    # Warm-up: JIT, and the transport pool grown to the in-flight peak (blocks it creates are kept, not garbage).
    for c in $CASES; do h2load -D 2 $(shape $c) "$(url $c)" >/dev/null 2>&1; done
    for c in $CASES; do
      p0=$(pool); alloc >/dev/null; t0=$(ticks)
      n=$(h2load $(shape $c) -D "$DURATION" "$(url $c)" 2>/dev/null | awk '/^requests:/ {print $8}')
      t1=$(ticks); a=$(alloc); p1=$(pool)
      a=$(echo "$a - ($p1 - $p0) / $n" | bc -l)
      REQ[$cfg-$c]=$(( ${REQ[$cfg-$c]:-0} + n )); CPU[$cfg-$c]=$(( ${CPU[$cfg-$c]:-0} + t1 - t0 ))
      ALLOC[$cfg-$c]=$(echo "${ALLOC[$cfg-$c]:-0} + $a" | bc -l)
      printf "%s #%-3d %-14s %10.0f %12.1f %12.1f\n" $cfg "$r" $c "$(echo "$n / $DURATION" | bc -l)" "$(echo "($t1 - $t0) * 1000000 / $HZ / $n" | bc -l)" "$a"
    done
    stop
  done
done
echo "--- mean over $ROUNDS rounds (${DURATION}s each, A/B alternating); A_ENV=\"$A_ENV\" B_ENV=\"$B_ENV\""
printf "%-14s %10s %10s %7s %11s %11s %7s %10s %10s\n" case "A req/s" "B req/s" "B/A" "A CPU us" "B CPU us" "B/A" "A alloc B" "B alloc B"
for c in $CASES; do
  ra=$(echo "${REQ[A-$c]} / ($ROUNDS * $DURATION)" | bc -l); rb=$(echo "${REQ[B-$c]} / ($ROUNDS * $DURATION)" | bc -l)
  ca=$(echo "${CPU[A-$c]} * 1000000 / $HZ / ${REQ[A-$c]}" | bc -l); cb=$(echo "${CPU[B-$c]} * 1000000 / $HZ / ${REQ[B-$c]}" | bc -l)
  printf "%-14s %10.0f %10.0f %6.2fx %11.1f %11.1f %6.2fx %10.1f %10.1f\n" $c "$ra" "$rb" "$(echo "$rb / $ra" | bc -l)" "$ca" "$cb" "$(echo "$cb / $ca" | bc -l)" \
    "$(echo "${ALLOC[A-$c]} / $ROUNDS" | bc -l)" "$(echo "${ALLOC[B-$c]} / $ROUNDS" | bc -l)"
done
