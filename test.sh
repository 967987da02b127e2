#!/usr/bin/env bash
# Same setup as run.sh, then every test (unit + integration on loopback, real FFmpeg / Kestrel / BPF).
set -euo pipefail
cd "$(dirname "$0")"
./scripts/setup.sh
dotnet test StreamServer.sln -c Release --no-build -nologo "$@"
