#!/usr/bin/env bash
# Set up a fresh Debian 12 machine, build, and serve the embedded default (foreground).
set -euo pipefail
cd "$(dirname "$0")"
./scripts/setup.sh
exec dotnet run --project src/StreamServer -c Release --no-build -- "$@"
