#!/usr/bin/env bash
# Coverage-guided fuzzing (SharpFuzz + afl-fuzz) of the parsers that read untrusted bytes: the zero-copy HTTP/1.1 request
# parser (http1), Range and conditional headers (range), the RTMP chunk stream and AMF0 (rtmp), the H.264 avcC/slice
# readers (h264), and the HLS/DASH writers over any segment timing a packaging run can produce (playlists). Seeds: tests/StreamServer.Tests/Fuzz/corpus/<target>. A crash is copied to
# tests/StreamServer.Tests/Fuzz/crashes/<target>/, where the xunit tests replay it; the script then exits 1.
#   scripts/fuzz.sh [SECONDS per target, default 60] [target...]
set -euo pipefail
cd "$(dirname "$0")/.."
PER=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(http1 range rtmp h264 playlists)
command -v afl-fuzz >/dev/null || { echo "fuzz: afl-fuzz missing (apt package afl++; scripts/setup.sh installs it)" >&2; exit 1; }

# Built into its own folder and instrumented there (SharpFuzz rewrites the assemblies in place): the server's own
# build stays untouched.
OUT=.fuzz
rm -rf "$OUT/bin"
mkdir -p "$OUT/bin"
dotnet tool restore >/dev/null
# FUZZ_NO_BUILD=1 (the tests): use the build scripts/setup.sh made.
[ "${FUZZ_NO_BUILD:-0}" = 1 ] || dotnet build fuzz -c Release -v q -nologo -clp:ErrorsOnly >/dev/null
cp -r fuzz/bin/Release/net10.0/. "$OUT/bin/"
for assembly in StreamServer.dll Transcode.dll; do
  dotnet sharpfuzz "$OUT/bin/$assembly" >/dev/null
done

export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
status=0
for target in "${TARGETS[@]}"; do
  findings="$OUT/findings/$target"
  rm -rf "$findings"; mkdir -p "$OUT/findings"
  afl-fuzz -i "tests/StreamServer.Tests/Fuzz/corpus/$target" -o "$findings" -V "$PER" -t 5000 -m none \
    -- dotnet "$OUT/bin/StreamServer.Fuzz.dll" "$target" > "$OUT/$target.log" 2>&1 || true
  stats="$findings/default/fuzzer_stats"
  [ -f "$stats" ] || { echo "fuzz $target: afl-fuzz did not run:"; tail -20 "$OUT/$target.log"; status=1; continue; }
  execs=$(awk -F': *' '/^execs_done/ { print $2 }' "$stats")
  paths=$(awk -F': *' '/^corpus_count/ { print $2 }' "$stats")
  crashes=$(find "$findings/default/crashes" -type f -name 'id:*' | wc -l)
  echo "fuzz $target: ${PER}s, $execs executions, $paths inputs in the corpus, $crashes crashes"
  if [ "$crashes" -gt 0 ]; then
    mkdir -p "tests/StreamServer.Tests/Fuzz/crashes/$target"
    for crash in "$findings"/default/crashes/id:*; do
      name=$(sha1sum "$crash" | cut -c1-16)
      cp "$crash" "tests/StreamServer.Tests/Fuzz/crashes/$target/$name"
      # Printed too, so a crash found on a CI machine can be kept from its log.
      echo "fuzz $target crash $name: $(base64 -w0 "$crash")"
    done
    status=1
  fi
done
exit $status
