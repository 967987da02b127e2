#!/usr/bin/env bash
# Lease/return of 64 KiB, 1 MiB and 3 MiB buffers: MemfdBufferPool vs ArrayPool<byte>.Shared vs new byte[]
# vs NativeMemory.Alloc/Free, side by side in one BenchmarkDotNet run (ShortRun job: 3 warm-up + 3 measured
# iterations, one launch, so the whole matrix takes a few minutes on 2 shared cores).
# Ratio column = time relative to MemfdBufferPool (the baseline) for the same size.
# Usage: bench/pool.sh [medium|cpu] [extra BenchmarkDotNet args]
#        medium: MediumRun job instead (15 iterations x 2 launches per case; ~15 min for the whole matrix).
#        cpu: MediumRun timed by process CPU time (user+sys of all threads) instead of wall time, in-process:
#        on a shared machine wall time mostly measures waiting for a core; CPU time only the work.
#        bench/pool.sh loop [rounds=400] [ops=200000]   tight loop, pool vs ArrayPool vs NativeMemory
#        interleaved, best round each: far less sensitive to other load than 3 BenchmarkDotNet iterations.
#        "per call" columns: one non-inlined rent+touch+return per call (what BenchmarkDotNet times; in the
#        tight loop the JIT hoists the thread-static lookup and field loads out of the loop). "steal %": host
#        steal time during the row.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build bench/BufferPool.Bench -c Release -nologo -v quiet -clp:ErrorsOnly
if [ "${1:-}" = loop ]; then
  exec dotnet run --project bench/BufferPool.Bench -c Release --no-build -- "$@"
fi
prefix=()
job=(--job short)
case "${1:-}" in
  medium) job=(--job medium); shift ;;
  cpu) prefix=(cpu); job=(); shift ;;
esac
artifacts=$(mktemp -d)
trap 'rm -rf "$artifacts"' EXIT
dotnet run --project bench/BufferPool.Bench -c Release --no-build -- \
  "${prefix[@]}" --filter '*LeaseReturnBenchmarks*' "${job[@]}" --memory --artifacts "$artifacts" "$@" >"$artifacts/log.txt" 2>&1 \
  || { tail -50 "$artifacts/log.txt"; exit 1; }
cat "$artifacts"/results/*LeaseReturnBenchmarks-report-github.md
