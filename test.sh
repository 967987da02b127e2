#!/usr/bin/env bash
# Same setup as run.sh, then every test (unit + integration on loopback, real FFmpeg / Kestrel / BPF).
# Extra arguments go to `dotnet test` (e.g. --filter "FullyQualifiedName~Admin").
set -euo pipefail
cd "$(dirname "$0")"
./scripts/setup.sh

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
dotnet test StreamServer.sln -c Release --no-build -nologo "$@" 2>&1 | tee "$log" || status=$?

# One closing line over all test assemblies, in the plain form CI reads.
awk '/(Passed|Failed)! +- +Failed:/ {
       gsub(/,/, ""); for (i = 1; i <= NF; i++) {
         if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) } }
     END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
