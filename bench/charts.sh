#!/usr/bin/env bash
# Chart render time (ScottPlot on SkiaSharp): each chart from a full hour of per-second history at 10 min and 1 h
# windows, 1200x400, PNG and SVG; p50 / p99 / max over ROUNDS renders after a warm-up. Target: p99 < 50 ms at 10 min.
# Then event to pixel with real retransmits, and serving with and without a chart fetched every second (see below).
#   ROUNDS=40 BURSTS=8 bench/charts.sh
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build bench/Charts.Bench -c Release -v q -nologo -clp:ErrorsOnly
dotnet bench/Charts.Bench/bin/Release/net10.0/Charts.Bench.dll "${ROUNDS:-40}"

# Event to pixel (root: the tracers, a network namespace, nftables): the server in its own namespace; each round turns
# on packet loss for one 1 MiB download, then times the first retransmit event (the server's /api/trace/events) to the
# first retransmits.png (10 s window) whose newest second shows it. Target: under 1.2 s (1 s sampling plus the render).
if [ "$(id -u)" -ne 0 ] || ! command -v nft >/dev/null; then echo "event to pixel: skipped (needs root and nft)"; exit 0; fi
NS=chartbench$$
PORT=18770
WORK=$(mktemp -d)
TOKEN=charts-bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
ip netns add $NS; ip -n $NS link set lo up
trap 'kill $PID 2>/dev/null; wait 2>/dev/null || true; ip netns del $NS; rm -rf "$WORK"' EXIT
mkdir -p "$WORK/vod/b"; head -c 1048576 /dev/urandom > "$WORK/vod/b/seg_000.m4s"; printf '#EXTM3U\n' > "$WORK/vod/b/media.m3u8"
source bench/streamserver.sh
NETNS=$NS start_streamserver "$WORK" "$PORT" --StreamServer:AdminToken="$TOKEN"
NETNS=$NS wait_for_url "http://127.0.0.1:$PORT/vod/b/media.m3u8"
for _ in $(seq 1 50); do ip netns exec $NS curl -s "http://127.0.0.1:$PORT/healthz" | grep -q '"tracers":{"status":"ok"' && break; sleep 0.2; done
ip netns exec $NS dotnet bench/Charts.Bench/bin/Release/net10.0/Charts.Bench.dll event-to-pixel "http://127.0.0.1:$PORT/" "$TOKEN" /vod/b/seg_000.m4s "${BURSTS:-8}"

# Serving while charting: wrk -t2 -c32 on a playlist (tracers attached) with a client fetching the 10-minute heatmap
# every second vs without, alternating; the server's CPU per request in each arm. Target: no more than 1 % lost.
DURATION=${DURATION:-10}
url="http://127.0.0.1:$PORT/vod/b/media.m3u8"
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
arm() { # arm charting(0|1) -> "req/s us-per-request"
  local poller=""
  if [ "$1" = 1 ]; then
    ( while true; do ip netns exec $NS curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" \
        "http://127.0.0.1:$PORT/api/trace/charts/send-latency.png?window=10m&width=1200&height=400"; sleep 1; done ) & poller=$!
  fi
  local s0; s0=$(ticks "$PID")
  ip netns exec $NS wrk -t2 -c32 -d"${DURATION}s" "$url" > "$WORK/wrk.txt"
  local s1; s1=$(ticks "$PID")
  [ -n "$poller" ] && { kill $poller; wait $poller 2>/dev/null || true; }
  awk -v s=$((s1 - s0)) -v hz="$(getconf CLK_TCK)" '/requests in/ {n = $1} /Requests\/sec/ {r = $2} END {printf "%s %.2f\n", r, s / hz * 1e6 / n}' "$WORK/wrk.txt"
}
ip netns exec $NS wrk -t2 -c32 -d3s "$url" >/dev/null
echo "round   not charting req/s   charting req/s   change   server us/request not | charting"
sa=0; sb=0
for r in $(seq 1 "${ROUNDS_SERVE:-4}"); do
  if ((r % 2)); then read -r a ac <<<"$(arm 0)"; read -r b bc <<<"$(arm 1)"; else read -r b bc <<<"$(arm 1)"; read -r a ac <<<"$(arm 0)"; fi
  printf '#%-5s %20.0f %16.0f %+8.2f%%   %21s | %s\n' "$r" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN {print (b - a) / a * 100}')" "$ac" "$bc"
  sa=$(awk -v s="$sa" -v v="$a" 'BEGIN {print s + v}'); sb=$(awk -v s="$sb" -v v="$b" 'BEGIN {print s + v}')
done
printf 'mean   %20.0f %16.0f %+8.2f%%   (target: no more than 1 %% lost)\n' "$(awk -v s="$sa" -v n="${ROUNDS_SERVE:-4}" 'BEGIN {print s / n}')" \
  "$(awk -v s="$sb" -v n="${ROUNDS_SERVE:-4}" 'BEGIN {print s / n}')" "$(awk -v a="$sa" -v b="$sb" 'BEGIN {print (b - a) / a * 100}')"
