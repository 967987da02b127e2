#!/usr/bin/env bash
# Shared setup for run.sh and test.sh: install missing Debian packages (idempotent), build the native
# parts (FFmpeg shim, eBPF objects) and the .NET solution in Release.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
while read -r pkg; do
  [[ -z "$pkg" || "$pkg" == \#* ]] && continue
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || need+=("$pkg")
done < packages.txt

sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
if ((${#need[@]})); then
  echo "setup: installing ${need[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# npm fetches the dashboard's front-end packages (uPlot). Debian's nodejs + npm when none is present.
if ! command -v npm >/dev/null; then
  echo "setup: installing nodejs npm"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
# Front-end packages: the dashboard's uPlot, and the players (hls.js, shaka-player) the tests drive.
for dir in src/StreamServer/Dashboard tests/Players; do
  if [[ ! -d "$dir/node_modules" || "$dir/package-lock.json" -nt "$dir/node_modules" ]]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
done

command -v dotnet >/dev/null || { echo "setup: the .NET 10 SDK (dotnet) is not on PATH" >&2; exit 1; }

# Native parts: each folder with a Makefile builds its own artefacts (never committed).
for dir in src/Transcode/Native bpf; do
  if [[ -f "$dir/Makefile" ]]; then
    make -s -C "$dir"
  fi
done

# The fuzzing tool (SharpFuzz's instrumenter), pinned in .config/dotnet-tools.json.
dotnet tool restore >/dev/null
dotnet build StreamServer.sln -c Release -nologo -v quiet -clp:ErrorsOnly
