#!/usr/bin/env bash
# Packaging throughput with decoded/scaled frames in the memfd buffer pool vs FFmpeg's default allocator
# (and vs one aligned native allocation per frame), same clip, runs interleaved.
# Usage: bench/frames.sh [--seconds 6] [--size 1280x720] [--runs 3] [--ladder 720,480,360] [--preset ultrafast]
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build bench/FramePath.Bench -c Release -nologo -v quiet -clp:ErrorsOnly
dotnet run --project bench/FramePath.Bench -c Release --no-build -- "$@"
