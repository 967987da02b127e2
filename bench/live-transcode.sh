#!/usr/bin/env bash
# Live ladder: a StreamServer channel in mode "transcode" next to the ffmpeg CLI doing the same job (one decode, the same
# rungs, libx264 with the same preset, bitrates and low-latency options, fMP4 HLS with 1 s segments), both fed the
# same 1280x720 30 fps publish in real time, one after the other.
#
#   [SECONDS_RUN=30] [LADDER=720,480,360] bench/live-transcode.sh
#
# Reported per side: CPU seconds per second of media (the transcoder only: the publisher is not counted; ours
# includes the server's own idle cost), segments produced per rung, and whether it kept up (ours: no lastError, its
# playlists advanced to the end; ffmpeg: speed >= 1 with -re).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_RUN=${SECONDS_RUN:-30}
LADDER=${LADDER:-720,480,360}
WORK=${WORK:-/tmp/ss-bench-live-transcode}
HTTP=18491; RTMP=19361
for tool in ffmpeg curl python3; do command -v $tool >/dev/null || { echo "missing $tool" >&2; exit 1; }; done
DLL=src/StreamServer/bin/Release/net10.0/StreamServer.dll
[ -f "$DLL" ] || dotnet build src/StreamServer -c Release -v q >/dev/null
rm -rf "$WORK"; mkdir -p "$WORK/data" "$WORK/ffmpeg"
ABS=$(cd "$WORK" && pwd)

echo "== source: $((SECONDS_RUN + 5)) s of 1280x720 30 fps H.264 (GOP 2 s) + AAC, encoded once up front"
ffmpeg -hide_banner -loglevel error -f lavfi -i "testsrc2=size=1280x720:rate=30" -f lavfi -i "sine=frequency=440:sample_rate=48000" \
  -t $((SECONDS_RUN + 5)) -c:v libx264 -preset veryfast -g 60 -b:v 4M -pix_fmt yuv420p -c:a aac -b:a 96k "$WORK/source.flv"

cpu() { read -r -a f < "/proc/$1/stat"; echo "$((f[13] + f[14])) $(getconf CLK_TCK)" | awk '{printf "%.2f", $1 / $2}'; }

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

ladder_args=(); i=0
IFS=, read -r -a RUNGS <<< "$LADDER"
for h in "${RUNGS[@]}"; do ladder_args+=("--StreamServer:Live:Ladder:$i=$h"); i=$((i + 1)); done
dotnet "$DLL" --StreamServer:DataDir="$ABS/data" --StreamServer:ListenAddress=127.0.0.1 --StreamServer:HttpPort=$HTTP \
  --StreamServer:HttpsPort=-1 --StreamServer:RtmpPort=$RTMP --StreamServer:GenerateSample=false \
  --StreamServer:Live:TestChannel=false --StreamServer:Live:SegmentSeconds=1 --StreamServer:Live:WindowDirectory="$ABS/window" \
  --StreamServer:Tracing:Enabled=false --Logging:LogLevel:Default=Warning \
  --StreamServer:Live:Channels:0:Name=ladder --StreamServer:Live:Channels:0:Key=k --StreamServer:Live:Channels:0:Mode=transcode \
  "${ladder_args[@]}" > "$WORK/ours.log" 2>&1 & OURS=$!; PIDS+=($OURS)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$HTTP/healthz" >/dev/null && break; sleep 0.2; done

echo "== ours: ladder $LADDER, ${SECONDS_RUN} s publish"
sleep 2; c0=$(cpu $OURS)
ffmpeg -hide_banner -loglevel error -re -i "$WORK/source.flv" -t "$SECONDS_RUN" -c copy -f flv "rtmp://127.0.0.1:$RTMP/live/ladder?key=k"
sleep 2; c1=$(cpu $OURS)
ours=$(echo "$c1 $c0 $SECONDS_RUN" | awk '{printf "%.3f", ($1-$2)/$3}')
state=$(curl -sf -H "Authorization: Bearer $(cat "$ABS/data/admin-token" 2>/dev/null || true)" "http://127.0.0.1:$HTTP/api/live/ladder" || true)
for h in "${RUNGS[@]}"; do
  n=$(curl -sf "http://127.0.0.1:$HTTP/live/ladder/v$h/index.m3u8" | grep -c '^#EXTINF' || true)
  echo "  v$h: $n segments in the window, ENDLIST: $(curl -sf "http://127.0.0.1:$HTTP/live/ladder/v$h/index.m3u8" | grep -c ENDLIST || true)"
done
echo "  lastError: $(echo "$state" | python3 -c 'import sys,json; d=sys.stdin.read(); print(json.loads(d).get("lastError") if d else "(api not read)")' 2>/dev/null || echo '?')"
echo "  cpu: $ours s per media second"
kill $OURS; wait $OURS 2>/dev/null || true

echo "== ffmpeg CLI: the same ladder, ${SECONDS_RUN} s"
filter="[0:v]split=${#RUNGS[@]}"; maps=(); j=0
for h in "${RUNGS[@]}"; do filter+="[s$j]"; j=$((j + 1)); done; filter+=";"
j=0
declare -A KBPS=([2160]=14000 [1440]=9000 [1080]=5000 [720]=2800 [540]=1800 [480]=1400 [360]=800 [240]=400 [144]=200)
for h in "${RUNGS[@]}"; do
  filter+="[s$j]scale=-2:$h[o$j];"
  k=${KBPS[$h]:-800}
  maps+=(-map "[o$j]" -c:v:$j libx264 -preset veryfast -profile:v:$j high -b:v:$j ${k}k -maxrate:v:$j $((k * 3 / 2))k -bufsize:v:$j $((k * 2))k)
  j=$((j + 1))
done
var_map=""; for ((j = 0; j < ${#RUNGS[@]}; j++)); do var_map+="v:$j,name:v${RUNGS[$j]} "; done
TIMEFORMAT='%U %S'
{ time ffmpeg -hide_banner -loglevel error -re -i "$WORK/source.flv" -t "$SECONDS_RUN" -filter_complex "${filter%;}" "${maps[@]}" \
  -x264-params "scenecut=0:open-gop=0:bframes=0:rc-lookahead=0:sync-lookahead=0:sliced-threads=1" -force_key_frames "expr:gte(t,n_forced*1)" \
  -f hls -hls_time 1 -hls_list_size 6 -hls_segment_type fmp4 -var_stream_map "${var_map% }" -master_pl_name master.m3u8 \
  "$WORK/ffmpeg/%v/index.m3u8" ; } 2> "$WORK/ffmpeg.time"
theirs=$(tail -1 "$WORK/ffmpeg.time" | awk -v s="$SECONDS_RUN" '{printf "%.3f", ($1+$2)/s}')
for h in "${RUNGS[@]}"; do echo "  v$h: $(grep -c '^#EXTINF' "$WORK/ffmpeg/v$h/index.m3u8" || true) segments in the window"; done
echo "  cpu: $theirs s per media second (video only: the audio is not packaged)"
echo "== ratio (ours / ffmpeg CLI, CPU per media second): $(echo "$ours $theirs" | awk '{printf "%.2fx", $1/$2}')"
