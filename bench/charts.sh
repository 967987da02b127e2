#!/usr/bin/env bash
# Chart render time (ScottPlot on SkiaSharp): each chart from a full hour of per-second history at 10 min and 1 h
# windows, 1200x400, PNG and SVG; p50 / p99 / max over ROUNDS renders after a warm-up. Target: p99 < 50 ms at 10 min.
#   ROUNDS=40 bench/charts.sh
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build bench/Charts.Bench -c Release -v q -nologo -clp:ErrorsOnly
dotnet bench/Charts.Bench/bin/Release/net10.0/Charts.Bench.dll "${ROUNDS:-40}"
