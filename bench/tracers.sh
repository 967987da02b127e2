#!/usr/bin/env bash
# Tracer overhead, in one run:
#  1. serving throughput (wrk) against one server process with the eBPF tracers attached vs detached,
#     alternating (the tracers are attached from a `trace --pid` process, the same programs and filters
#     the server attaches itself), printing the ratio; target <= 3% loss.
#  2. ring-buffer burst: every sendto of a process is an event (stall threshold 0): events/s and drops.
#  3. the programs' own run time from the kernel's BPF stats (kernel.bpf_stats_enabled, restored after):
#     noise-free cost per request, which the wrk ratio on a loaded 2-core box cannot resolve below ~5%.
# Usage: bench/tracers.sh [rounds=5] [seconds=8]   (root; needs wrk, curl, bpftool; builds if needed)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
SECONDS_PER_RUN=${2:-8}
PORT=${PORT:-18181}
BIN=src/StreamServer/bin/Release/net10.0/StreamServer.dll
WORK=bench/.work/tracers
mkdir -p "$WORK"

[[ -f bpf/.output/retrans.bpf.o ]] || make -s -C bpf
[[ -f "$BIN" ]] || dotnet build src/StreamServer -c Release -nologo -v quiet -clp:ErrorsOnly

# The library lives outside bench/.work: the VOD file path refuses to serve from below dot-folders.
DATA=$(mktemp -d /tmp/ss-bench-tracers.XXXXXX)
mkdir -p "$DATA/vod/bench"
head -c 1048576 /dev/urandom > "$DATA/vod/bench/segment-00001.m4s"
dotnet "$BIN" --StreamServer:DataDir="$DATA" --StreamServer:ListenAddress=127.0.0.1 \
  --StreamServer:HttpPort=$PORT --StreamServer:HttpsPort=-1 --StreamServer:GenerateSample=false \
  --StreamServer:Tracing:Enabled=false --Logging:LogLevel:Default=Warning > "$WORK/server.log" 2>&1 &
SERVER=$!
TRACER=
STATS_BEFORE=$(sysctl -n kernel.bpf_stats_enabled)
cleanup() {
  sysctl -qw kernel.bpf_stats_enabled="$STATS_BEFORE" || true
  [[ -n "$TRACER" ]] && kill -TERM "$TRACER" 2>/dev/null && wait "$TRACER" 2>/dev/null || true
  kill -TERM "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true
  rm -rf "$DATA"
}
trap cleanup EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done

# A 1 MiB segment file (sendfile path); small /healthz responses if VOD serving is missing.
URL="http://127.0.0.1:$PORT/vod/bench/segment-00001.m4s"
[[ $(curl -s -o /dev/null -w '%{http_code}' "$URL") == 200 ]] || URL="http://127.0.0.1:$PORT/healthz"
echo "target: $URL"
wrk -t2 -c32 -d3s "$URL" >/dev/null # warm-up (JIT, connections)

attach() {
  dotnet "$BIN" trace --pid "$SERVER" --ports "$PORT" --interval 3600 > "$WORK/trace.log" 2>&1 &
  TRACER=$!
  for _ in $(seq 200); do grep -q 'programs attached' "$WORK/trace.log" && return 0; sleep 0.05; done
  echo "tracer did not attach:"; cat "$WORK/trace.log"; exit 1
}
detach() { kill -TERM "$TRACER"; wait "$TRACER" || true; TRACER=; }
rps() { wrk -t2 -c32 -d"${SECONDS_PER_RUN}s" "$1" > "$WORK/wrk.txt"; awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt"; }
requests() { awk '/requests in/ {print $1}' "$WORK/wrk.txt"; }
# Sum of run_time_ns over the programs the tracer process holds (prog ids from its fds' fdinfo).
bpf_ns() {
  local ids total=0 id ns
  ids=$(grep -h '^prog_id:' /proc/"$TRACER"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -u)
  for id in $ids; do
    ns=$(bpftool prog show id "$id" 2>/dev/null | sed -nE 's/.*run_time_ns ([0-9]+).*/\1/p')
    total=$((total + ${ns:-0}))
  done
  echo "$total"
}

off=(); on=(); bpf_total=0; on_requests=0; on_seconds=0
for r in $(seq "$ROUNDS"); do
  off+=("$(rps "$URL")")
  attach
  sysctl -qw kernel.bpf_stats_enabled=1
  on+=("$(rps "$URL")")
  ns=$(bpf_ns); sysctl -qw kernel.bpf_stats_enabled="$STATS_BEFORE"
  bpf_total=$((bpf_total + ns)); on_requests=$((on_requests + $(requests))); on_seconds=$((on_seconds + SECONDS_PER_RUN))
  detach
  echo "round $r: detached ${off[-1]} req/s, attached ${on[-1]} req/s, BPF run time $((ns / 1000000)) ms"
done
mean() { printf '%s\n' "$@" | awk '{s+=$1} END {printf "%.0f", s/NR}'; }
OFF=$(mean "${off[@]}"); ON=$(mean "${on[@]}")
LOSS=$(awk -v a="$OFF" -v b="$ON" 'BEGIN {printf "%.2f", (a-b)/a*100}')
RATIO=$(awk -v a="$OFF" -v b="$ON" 'BEGIN {printf "%.3f", b/a}')
MEDIAN=$(for i in "${!on[@]}"; do awk -v a="${off[$i]}" -v b="${on[$i]}" 'BEGIN {printf "%.4f\n", b/a}'; done | sort -n | awk '{v[NR]=$1} END {printf "%.3f", (NR%2)? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}')
NS_PER_REQ=$(awk -v t="$bpf_total" -v n="$on_requests" 'BEGIN {printf "%.0f", t/n}')
CPU_SHARE=$(awk -v t="$bpf_total" -v s="$on_seconds" -v c="$(nproc)" 'BEGIN {printf "%.2f", t/(s*c*1e9)*100}')
echo "throughput: detached $OFF req/s, attached $ON req/s, ratio of means $RATIO (loss $LOSS%), median per-round ratio $MEDIAN; target <= 3% loss"
echo "BPF programs: $((bpf_total / 1000000)) ms run time over $on_requests requests = $NS_PER_REQ ns/request = $CPU_SHARE% of $(nproc) cores"

dotnet build bench/TraceBurst.Bench -c Release -nologo -v quiet -clp:ErrorsOnly >/dev/null
BURST=$(dotnet bench/TraceBurst.Bench/bin/Release/net10.0/TraceBurst.Bench.dll 3000000)
echo "$BURST"
# The same burst while the charts' sampling (4 per second) and a heatmap render every second run beside it.
BURST_CHART=$(dotnet bench/TraceBurst.Bench/bin/Release/net10.0/TraceBurst.Bench.dll 3000000 "" chart)
echo "$BURST_CHART"
