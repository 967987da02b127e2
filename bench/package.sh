#!/usr/bin/env bash
# Packaging throughput: our `package` verb vs the ffmpeg CLI doing the same ladder (one decode, split
# filter, same x264 preset/GOP/bitrates/VBV, AAC, HLS fMP4 segments) on the same 1080p30 source,
# alternated in one run. Prints per-run times and the throughput ratio (ours / CLI).
# Usage: bench/package.sh [runs=3] [seconds=10]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
secs=${2:-10}
work=bench/.work/package
mkdir -p "$work"
src="$work/src-1080p30-${secs}s.mp4"
dll=src/StreamServer/bin/Release/net10.0/StreamServer.dll

[[ -f "$dll" ]] || dotnet build src/StreamServer -c Release -nologo -v quiet -clp:ErrorsOnly
if [[ ! -f "$src" ]]; then
  ffmpeg -hide_banner -loglevel error -y \
    -f lavfi -i "testsrc2=size=1920x1080:rate=30:duration=$secs" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$secs" \
    -c:v libx264 -preset veryfast -b:v 8M -pix_fmt yuv420p -c:a aac -b:a 128k "$src"
fi

preset=veryfast seg=4 gop=$((30 * seg))
# OURS_ARGS: extra options for our verb, e.g. OURS_ARGS="--encoder-threads 3" to match x264 auto threading.
ours=(dotnet "$dll" package "$src" --out "$work/ours" --ladder 720,480,360 --preset $preset --segment-seconds $seg ${OURS_ARGS:-})
# Same settings as PackagingOptions defaults: 2800/1400/800 kbit/s, maxrate 1.5x, bufsize 2x, High
# profile, closed GOP of seg*fps frames, keyframes forced every $seg s, no scene-cut keyframes.
cli=(ffmpeg -hide_banner -loglevel error -y -i "$src"
  -filter_complex "[0:v]split=3[s0][s1][s2];[s0]scale=1280:720[v0];[s1]scale=854:480[v1];[s2]scale=640:360[v2]"
  -map "[v0]" -map "[v1]" -map "[v2]" -map 0:a
  -c:v libx264 -preset $preset -profile:v high -pix_fmt yuv420p -g $gop -keyint_min $gop -sc_threshold 0 -flags +cgop
  -force_key_frames "expr:gte(t,n_forced*$seg)" -x264-params scenecut=0:open-gop=0
  -b:v:0 2800k -maxrate:v:0 4200k -bufsize:v:0 5600k
  -b:v:1 1400k -maxrate:v:1 2100k -bufsize:v:1 2800k
  -b:v:2 800k -maxrate:v:2 1200k -bufsize:v:2 1600k
  -c:a aac -b:a 128k
  -f hls -hls_time $seg -hls_playlist_type vod -hls_segment_type fmp4 -master_pl_name master.m3u8
  -var_stream_map "v:0,agroup:aud v:1,agroup:aud v:2,agroup:aud a:0,agroup:aud"
  -hls_segment_filename "$work/cli/s%v_%05d.m4s" -hls_fmp4_init_filename "init_%v.mp4" "$work/cli/index_%v.m3u8")

# Wall time is what a user waits for; CPU time (user+sys) is the work done, which is what decides
# throughput on a machine busy with other work, so both ratios are printed.
timed() { rm -rf "$work/ours" "$work/cli"; mkdir -p "$work/cli"; /usr/bin/time -f '%e %U %S' -o "$work/time" "$@" >/dev/null; read -r wall user sys <"$work/time"; echo "$wall $(echo "$user + $sys" | bc -l)"; }

timed "${ours[@]}" >/dev/null # warm-up (page cache, first-run JIT of the CLI), not counted
tw_o=0 tw_c=0 tc_o=0 tc_c=0
for i in $(seq 1 "$runs"); do
  read -r wo co < <(timed "${ours[@]}")
  read -r wc cc < <(timed "${cli[@]}")
  tw_o=$(echo "$tw_o + $wo" | bc -l); tw_c=$(echo "$tw_c + $wc" | bc -l)
  tc_o=$(echo "$tc_o + $co" | bc -l); tc_c=$(echo "$tc_c + $cc" | bc -l)
  printf 'run %d: ours wall %6.2fs cpu %6.2fs (%.2fx realtime) | ffmpeg-cli wall %6.2fs cpu %6.2fs (%.2fx realtime)\n' \
    "$i" "$wo" "$co" "$(echo "$secs / $wo" | bc -l)" "$wc" "$cc" "$(echo "$secs / $wc" | bc -l)"
done
printf 'throughput ratio ours/cli: wall %.3f  cpu %.3f  (%d runs each, %ss 1080p30 source, load avg %s)\n' \
  "$(echo "$tw_c / $tw_o" | bc -l)" "$(echo "$tc_c / $tc_o" | bc -l)" "$runs" "$secs" "$(cut -d' ' -f1-3 /proc/loadavg)"
