#!/usr/bin/env bash
# Where the CPU goes serving the same file (default: the 1 MiB segment) with the same wrk load (-t2 -c32),
# StreamServer vs nginx (1 worker, sendfile on, tcp_nopush on), alternating. For each server:
#   1. CPU per request: utime+stime of the server process (/proc/PID/stat) and perf stat's task-clock /
#      context switches during a DURATION s wrk run, divided by the requests wrk completed; wrk's own
#      CPU per request too (on 2 cores the client's share bounds what a leaner server can gain);
#   2. perf record -g (cpu-clock sampling; .NET JIT frames named through DOTNET_PerfMapEnabled=1):
#      share of samples per DSO and the top symbols (kernel and user);
#   3. strace -c -f during a STRACE s wrk run: syscalls per request (strace slows both servers alike;
#      only the counts per request matter).
# Prints both side by side with ratios ours/nginx. Needs root (perf, strace attach).
#   DURATION=8 ROUNDS=2 TARGET=/vod/bench/seg_000.m4s [OURS_ENV=...] [SECTIONS=cpu,strace,perf] bench/profile-serve.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-8}
ROUNDS=${ROUNDS:-2}
STRACE=${STRACE:-3}
CONNS=${CONNS:-32}
TARGET=${TARGET:-/vod/bench/seg_000.m4s}
TOP=${TOP:-14}
WORK=bench/.work/profile-serve
OURS_PORT=${OURS_PORT:-18491}
NGINX_PORT=${NGINX_PORT:-18492}
NGINX_H2C_PORT=${NGINX_H2C_PORT:-18493}
for tool in perf strace; do command -v $tool >/dev/null || { echo "missing $tool" >&2; exit 1; }; done
source bench/serve-setup.sh
trap 'cleanup; rm -f "/tmp/perf-${OURS_PID:-x}.map" "/tmp/perfinfo-${OURS_PID:-x}.map"' EXIT
# OURS_ENV: extra environment for our server (A/B of runtime settings), e.g. OURS_ENV="DOTNET_X=1 DOTNET_Y=0".
# W^X off so perf can map JIT frames to /tmp/perf-PID.map (with it on, JIT code shows as memfd:doublemapper).
start_servers DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 ${OURS_ENV:-}
NGINX_WORKER=$(pgrep -P "$NGINX_PID" | head -1)
declare -A PID=([nginx]=$NGINX_WORKER [ours]=$OURS_PID) PORT=([nginx]=$NGINX_PORT [ours]=$OURS_PORT)
HZ=$(getconf CLK_TCK)
for s in ours nginx; do wrk -t2 -c"$CONNS" -d3s "http://127.0.0.1:${PORT[$s]}$TARGET" >/dev/null; done  # warm-up

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
declare -A REQ CPU TASK CS WRK
for r in $(seq 1 "$ROUNDS"); do
  for s in nginx ours; do
    pid=${PID[$s]}
    perf stat -x, -e task-clock,context-switches -p "$pid" -o "$WORK/$s.stat" & PERF=$!
    sleep 0.2
    t0=$(cpu_ticks "$pid")
    perf stat -x, -e task-clock -o "$WORK/$s.wrkstat" wrk -t2 -c"$CONNS" -d"${DURATION}s" "http://127.0.0.1:${PORT[$s]}$TARGET" > "$WORK/$s.wrk"
    t1=$(cpu_ticks "$pid")
    WRK[$s]=$(echo "${WRK[$s]:-0} + $(awk -F, '$3 ~ /task-clock/ {print $1}' "$WORK/$s.wrkstat")" | bc -l)
    kill -INT $PERF; wait $PERF || true
    n=$(awk '/requests in/ {print $1}' "$WORK/$s.wrk")
    REQ[$s]=$(( ${REQ[$s]:-0} + n ))
    CPU[$s]=$(( ${CPU[$s]:-0} + t1 - t0 ))
    TASK[$s]=$(echo "${TASK[$s]:-0} + $(awk -F, '$3 ~ /task-clock/ {print $1}' "$WORK/$s.stat")" | bc -l)
    CS[$s]=$(( ${CS[$s]:-0} + $(awk -F, '$3 ~ /context-switches/ {print $1}' "$WORK/$s.stat") ))
    printf "round %d %-5s %8.0f req/s  %6.1f us CPU/req\n" "$r" "$s" "$(echo "$n / $DURATION" | bc -l)" "$(echo "($t1 - $t0) * 1000000 / $HZ / $n" | bc -l)"
  done
done

echo
echo "=== CPU per request ($ROUNDS x ${DURATION}s, wrk -t2 -c$CONNS $TARGET, alternating)"
printf "%-34s %12s %12s %8s\n" "" nginx ours ratio
row() { printf "%-34s %12.2f %12.2f %7.2fx\n" "$1" "$2" "$3" "$(echo "$3 / $2" | bc -l)"; }
row "req/s" "$(echo "${REQ[nginx]} / ($ROUNDS * $DURATION)" | bc -l)" "$(echo "${REQ[ours]} / ($ROUNDS * $DURATION)" | bc -l)"
row "CPU us/req (utime+stime)" "$(echo "${CPU[nginx]} * 1000000 / $HZ / ${REQ[nginx]}" | bc -l)" "$(echo "${CPU[ours]} * 1000000 / $HZ / ${REQ[ours]}" | bc -l)"
row "CPU us/req (perf task-clock)" "$(echo "${TASK[nginx]} * 1000 / ${REQ[nginx]}" | bc -l)" "$(echo "${TASK[ours]} * 1000 / ${REQ[ours]}" | bc -l)"
row "server CPUs busy (task-clock/wall)" "$(echo "${TASK[nginx]} / 1000 / ($ROUNDS * ($DURATION + 0.2))" | bc -l)" "$(echo "${TASK[ours]} / 1000 / ($ROUNDS * ($DURATION + 0.2))" | bc -l)"
row "client (wrk) CPU us/req" "$(echo "${WRK[nginx]} * 1000 / ${REQ[nginx]}" | bc -l)" "$(echo "${WRK[ours]} * 1000 / ${REQ[ours]}" | bc -l)"
row "context switches/req" "$(echo "${CS[nginx]} / ${REQ[nginx]}" | bc -l)" "$(echo "${CS[ours]} / ${REQ[ours]}" | bc -l)"

SECTIONS=${SECTIONS:-cpu,strace,perf}
if [[ $SECTIONS == *strace* ]]; then
  echo
  echo "=== syscalls per request (strace -c -f, ${STRACE}s wrk run each)"
  declare -A SYS
  for s in nginx ours; do
    strace -c -f -p "${PID[$s]}" -o "$WORK/$s.strace" 2>/dev/null & ST=$!
    sleep 0.5
    wrk -t2 -c"$CONNS" -d"${STRACE}s" "http://127.0.0.1:${PORT[$s]}$TARGET" > "$WORK/$s.strace.wrk"
    kill -INT $ST; wait $ST || true
    SYS[$s]=$(awk '/requests in/ {print $1}' "$WORK/$s.strace.wrk")
  done
  # strace -c rows: % time, seconds, usecs/call, calls, [errors,] syscall
  calls() { awk '$1 ~ /^[0-9.]+$/ && NF >= 5 {print $NF, $4}' "$WORK/$1.strace"; }
  printf "%-18s %12s %12s\n" syscall nginx ours
  join -a1 -a2 -e 0 -o 0,1.2,2.2 <(calls nginx | sort) <(calls ours | sort) | grep -v '^total' |
    awk -v a="${SYS[nginx]}" -v b="${SYS[ours]}" '{printf "%-18s %12.2f %12.2f\n", $1, $2 / a, $3 / b}' | sort -k3 -gr | head -16 || true
fi

if [[ $SECTIONS == *perf* ]]; then
  echo
  echo "=== perf record -g (cpu-clock, ${DURATION}s wrk run each)"
  for s in nginx ours; do
    perf record -F 499 -g -p "${PID[$s]}" -o "$WORK/$s.perf.data" -- sleep "$DURATION" 2>"$WORK/$s.perf.log" & PR=$!
    wrk -t2 -c"$CONNS" -d"${DURATION}s" "http://127.0.0.1:${PORT[$s]}$TARGET" >/dev/null
    wait $PR || true
    echo "--- $s: samples by DSO"
    perf report -q -i "$WORK/$s.perf.data" --no-children --sort dso --stdio -g none 2>/dev/null | awk 'NF {print}' | head -8 || true
    echo "--- $s: top symbols (self)"
    perf report -q -i "$WORK/$s.perf.data" --no-children --sort sym --stdio -g none 2>/dev/null | awk 'NF {print}' | head -"$TOP" || true
    echo "--- $s: top user-space symbols (self)"
    perf report -q -i "$WORK/$s.perf.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null | awk 'NF && !/kernel.kallsyms/ {print}' | head -"$TOP" || true
  done
fi
