#!/usr/bin/env bash
# What metrics cost. 1) In-process: recording one request (counter with 3 tags + duration histogram with 2) and one scrape,
# our exporter vs prometheus-net 8.2.1 (its MeterAdapter over the same instruments, and its native instruments).
# 2) The real server with the tracers attached (the full set of series): /metrics render time (curl, 50 scrapes, p50/p99)
# and size. 3) Serving rate (wrk -c32 on a playlist) with a real Prometheus scraping us every 1 s vs scraping only
# itself, alternating.
#   DURATION=10 ROUNDS=4 bench/metrics.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-4}
PORT=${PORT:-18695}
PROM_PORT=${PROM_PORT:-18696}
WORK=bench/.work/metrics
for tool in wrk curl prometheus; do command -v $tool >/dev/null || { echo "missing $tool" >&2; exit 1; }; done
dotnet build bench/MetricsExport.Bench -c Release -v q -nologo -clp:ErrorsOnly
echo "== recording and scrape cost, in-process (best of 5 rounds of 2M recordings)"
dotnet bench/MetricsExport.Bench/bin/Release/net10.0/MetricsExport.Bench.dll | grep -v "^  # TYPE\|names for"

rm -rf "$WORK"; mkdir -p "$WORK/data/vod/bench"
ABS=$(cd "$WORK" && pwd)
{ echo "#EXTM3U"; echo "#EXT-X-VERSION:7"; echo "#EXT-X-TARGETDURATION:4"; echo '#EXT-X-MAP:URI="init.mp4"'
  for i in $(seq 0 14); do printf '#EXTINF:4.000000,\nseg_%03d.m4s\n' "$i"; done; echo "#EXT-X-ENDLIST"; } > "$WORK/data/vod/bench/media.m3u8"
source bench/streamserver.sh
start_streamserver "$ABS/data" "$PORT"
PROM=""
trap 'kill $PID $PROM 2>/dev/null; wait 2>/dev/null || true' EXIT
url="http://127.0.0.1:$PORT/vod/bench/media.m3u8"
wait_for_url "$url"
wrk -t2 -c32 -d3s "$url" >/dev/null   # warm-up, and every series of the serving path exists
sleep 2
echo "== /metrics of the running server (tracers: $(curl -s "http://127.0.0.1:$PORT/healthz" | grep -o '"tracers":{"status":"[a-z]*"' | cut -d'"' -f6))"
for _ in $(seq 1 50); do curl -s -o /dev/null -w '%{time_total} %{size_download}\n' "http://127.0.0.1:$PORT/metrics"; done | sort -n > "$WORK/scrapes.txt"
awk '{t[NR] = $1 * 1000; b = $2} END {printf "render+transfer ms p50 %.2f p99 %.2f max %.2f, %d bytes, %d series\n", t[int(NR * 0.5)], t[int(NR * 0.99)], t[NR], b, 0}' "$WORK/scrapes.txt" |
  sed "s/, 0 series/, $(curl -s "http://127.0.0.1:$PORT/metrics" | grep -vc '^#') samples/"

echo "== serving rate with Prometheus scraping us every 1 s vs Prometheus scraping only itself (wrk -t2 -c32, ${DURATION}s)"
# Prometheus runs in both arms (it shares the 2 cores), so the difference is what being scraped costs the server.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
arm() { # arm TARGET -> "req/s server-us-per-request prometheus-cpu-%"
  STREAMSERVER_TARGET=$1 PROMETHEUS_PORT=$PROM_PORT SCRAPE_INTERVAL=1s WORK="$ABS/prometheus-$RANDOM" scripts/observe.sh > "$WORK/prometheus.log" 2>&1 & PROM=$!
  for _ in $(seq 1 50); do curl -sf -o /dev/null "http://127.0.0.1:$PROM_PORT/-/ready" && break; sleep 0.2; done
  sleep 3
  local s0 p0; s0=$(ticks $PID); p0=$(ticks $PROM)
  wrk -t2 -c32 -d"${DURATION}s" "$url" > "$WORK/wrk.txt"
  local s1 p1; s1=$(ticks $PID); p1=$(ticks $PROM)
  kill $PROM; wait $PROM 2>/dev/null || true; PROM=""
  awk -v s=$((s1 - s0)) -v p=$((p1 - p0)) -v hz="$HZ" -v d="$DURATION" '
    /requests in/ {n = $1} /Requests\/sec/ {rps = $2}
    END {printf "%s %.2f %.1f\n", rps, s / hz * 1e6 / n, p / hz / d * 100}' "$WORK/wrk.txt"
}
echo "round   not scraped req/s   scraped req/s   change   server us/request not | scraped   prometheus CPU % not | scraped"
sum_a=0; sum_b=0
for r in $(seq 1 "$ROUNDS"); do
  if ((r % 2)); then read -r a ac ap <<<"$(arm "127.0.0.1:$PROM_PORT")"; read -r b bc bp <<<"$(arm "127.0.0.1:$PORT")"
  else read -r b bc bp <<<"$(arm "127.0.0.1:$PORT")"; read -r a ac ap <<<"$(arm "127.0.0.1:$PROM_PORT")"; fi
  printf '#%-5s %19.0f %15.0f %+8.2f%%   %21s | %-7s   %20s | %s\n' "$r" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN {print (b - a) / a * 100}')" "$ac" "$bc" "$ap" "$bp"
  sum_a=$(awk -v s="$sum_a" -v v="$a" 'BEGIN {print s + v}'); sum_b=$(awk -v s="$sum_b" -v v="$b" 'BEGIN {print s + v}')
done
printf 'mean   %19.0f %15.0f %+8.2f%%   (target: no more than 1 %% lost)\n' "$(awk -v s="$sum_a" -v n="$ROUNDS" 'BEGIN {print s / n}')" \
  "$(awk -v s="$sum_b" -v n="$ROUNDS" 'BEGIN {print s / n}')" "$(awk -v a="$sum_a" -v b="$sum_b" 'BEGIN {print (b - a) / a * 100}')"
