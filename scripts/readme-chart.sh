#!/usr/bin/env bash
# The README's chart, from a real run: the server (Release, tracers attached: needs root or CAP_BPF + CAP_PERFMON) under a
# 30 s swarm of 300 players from loadtest/, then its own /api/trace/charts/send-latency.png for the last minute.
#   scripts/readme-chart.sh [out.png]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-docs/images/send-latency.png}
PORT=${PORT:-18740}
WORK=$(mktemp -d)
TOKEN=readme-chart-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
trap 'kill $PID 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
source bench/streamserver.sh
start_streamserver "$WORK" "$PORT" --StreamServer:GenerateSample=true --StreamServer:SampleSeconds=12 --StreamServer:AdminToken="$TOKEN"
wait_for_url "http://127.0.0.1:$PORT/vod/sample/master.m3u8" 300
curl -s "http://127.0.0.1:$PORT/healthz" | grep -q '"tracers":{"status":"ok"' || { echo "readme-chart: tracers not attached (root?)" >&2; exit 1; }
dotnet loadtest/bin/Release/net10.0/LoadTest.dll --url "http://127.0.0.1:$PORT/vod/sample/master.m3u8" --players 300 --ramp 10s \
  --duration 30s --pace max --quiet | tail -4
sleep 2
mkdir -p "$(dirname "$OUT")"
curl -sf -H "Authorization: Bearer $TOKEN" -o "$OUT" "http://127.0.0.1:$PORT/api/trace/charts/send-latency.png?window=1m&width=1200&height=400"
echo "wrote $OUT"
