#!/usr/bin/env bash
# On-demand thumbnails: our path (seek to keyframe, decode forward, swscale, our libjpeg encoder from planar YUV:
# SSIM-tuned tables + trellis quantization) vs the ffmpeg CLI anchor `ffmpeg -ss t -i src -frames:v 1 -vf
# scale=w:-2 -q:v N`, on the same 1080p source, one run. For each width (1920 = the full frame, 320 = a typical
# thumbnail) and our quality 95/75/40: bytes, SSIM against the source frame at t (ffmpeg ssim filter, lossless Y4M
# reference), time per thumbnail; the CLI's size at our SSIM, interpolated over a sweep of every -q:v (2..31, plus
# -qmin 1 -q:v 1, the best mjpeg can do). Also the same scaled frame encoded with libjpeg's defaults (Annex K tables,
# round-to-nearest: what TurboJPEG wrote before), for reference.
# Speed (ThumbsBench race): ours and the CLI at the -q:v closest in size, interleaved request by request so both see
# the same machine load, over distinct times (round-robin over $tlist: no two consecutive requests want the same
# frame), thumbnail cache disabled so every request renders. Ours "warm" = the opened source (demuxer + decoder) kept
# between requests, as the server keeps opened renditions (it holds no frames and no results); "cold" = a fresh
# service per request (open + decoder init included, like a CLI invocation). Wall = median; CPU = user + system over
# all threads, mean (the cost of a thumbnail, much less disturbed by other load than wall time).
# Usage: bench/thumbs.sh [rounds=2]   (each timing: rounds x 6 requests)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-2}
work=bench/.work/thumbs
mkdir -p "$work"
src="$work/src-1080p24-8M.mp4"
t=5.3 # mid-GOP (keyframes every 2 s): both sides seek to 4.0 s and decode forward
tlist="5.3,1.3,3.9,0.5,4.6,2.7" # every position in a GOP: just after a keyframe to just before the next

if [[ ! -f "$src" ]]; then
  # Fine detail and smooth gradients (a zooming Mandelbrot) with light temporal grain, coded like a typical
  # 1080p source: x264 veryfast (B-frames), 8 Mbit/s, 2 s GOPs.
  ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i "mandelbrot=size=1920x1080:rate=24,noise=alls=3:allf=t,format=yuv420p" \
    -t 6 -c:v libx264 -preset veryfast -b:v 8M -maxrate 12M -bufsize 16M -g 48 -keyint_min 48 -sc_threshold 0 "$src"
fi

dotnet build bench/ThumbsBench -c Release -nologo -v quiet -clp:ErrorsOnly >/dev/null
tool=bench/ThumbsBench/bin/Release/net10.0/ThumbsBench.dll

ssim() { ffmpeg -nostdin -hide_banner -nostats -i "$1" -i "$2" -lavfi ssim -f null - 2>&1 | sed -n 's/.*All:\([0-9.]*\).*/\1/p' | tail -1; }
cli() { ffmpeg -nostdin -hide_banner -loglevel error -y -ss "$t" -i "$src" -frames:v 1 -vf "scale=$1:-2" -q:v "$2" "$3"; }

report="$work/report.txt"
race="$work/race.txt"
: > "$report"
: > "$race"
for w in 1920 320; do
  ref="$work/ref_w$w.y4m"
  ffmpeg -nostdin -hide_banner -loglevel error -y -ss "$t" -i "$src" -frames:v 1 -vf "scale=$w:-2:flags=bicubic" -pix_fmt yuv420p "$ref"

  # CLI sweep over every -q:v: size and SSIM of each. -q:v 1 needs -qmin 1 (mjpeg's default qmin is 2).
  sweep="$work/sweep_w$w.txt"
  : > "$sweep"
  for qv in $(seq 1 31); do
    out="$work/cli_w${w}_qv$qv.jpg"
    if [[ $qv == 1 ]]; then
      ffmpeg -nostdin -hide_banner -loglevel error -y -ss "$t" -i "$src" -frames:v 1 -vf "scale=$w:-2" -qmin 1 -q:v 1 "$out"
    else
      cli "$w" "$qv" "$out" 2>/dev/null
    fi
    echo "$qv $(stat -c %s "$out") $(ssim "$out" "$ref")" >> "$sweep"
  done

  # Ours, baseline and progressive (both with optimized Huffman tables): bytes and SSIM at t, encode time alone.
  THUMBS_PROGRESSIVE=0 dotnet "$tool" images "$src" "$t" "$w" "$work/base" 95 75 40 > "$work/ours_w$w.txt"
  THUMBS_PROGRESSIVE=1 dotnet "$tool" images "$src" "$t" "$w" "$work/prog" 95 75 40 >> "$work/ours_w$w.txt"
  pairs_base=() pairs_prog=()
  while read -r line; do
    q=$(sed -n 's/.*q=\([0-9]*\).*/\1/p' <<<"$line")
    bytes=$(sed -n 's/.* bytes=\([0-9]*\).*/\1/p' <<<"$line")
    enc=$(sed -n 's/.* encode_ms=\([0-9.]*\).*/\1/p' <<<"$line")
    akbytes=$(sed -n 's/.*annexk_bytes=\([0-9]*\).*/\1/p' <<<"$line")
    akenc=$(sed -n 's/.*annexk_encode_ms=\([0-9.]*\).*/\1/p' <<<"$line")
    mode=base; [[ $line == *progressive=True* ]] && mode=prog
    ours_ssim=$(ssim "$work/$mode/ours_q${q}_w$w.jpg" "$ref")
    ak_ssim=$(ssim "$work/$mode/annexk_q${q}_w$w.jpg" "$ref")
    # The CLI is timed at the -q:v closest in file size.
    qv=$(awk -v b="$bytes" '{d=$2-b; if(d<0)d=-d; if(best==""||d<best){best=d;q=$1}} END{print q}' "$sweep")
    if [[ $mode == base ]]; then pairs_base+=("$q:$qv"); else pairs_prog+=("$q:$qv"); fi
    echo "$w $mode $q $bytes $ours_ssim $enc $qv $akbytes $ak_ssim $akenc" >> "$report"
  done < "$work/ours_w$w.txt"

  # Speed: ours (kept source = warm, fresh service = cold) and the CLI, interleaved request by request over the same
  # distinct times, so that both see the same load (ThumbsBench race; wall medians, CPU means).
  THUMBS_PROGRESSIVE=0 dotnet "$tool" race "$src" "$tlist" "$w" "$runs" "${pairs_base[@]}" | sed "s/^/w=$w mode=base /" >> "$race"
  THUMBS_PROGRESSIVE=1 dotnet "$tool" race "$src" "$tlist" "$w" "$runs" "${pairs_prog[@]}" | sed "s/^/w=$w mode=prog /" >> "$race"
done

python3 - "$report" "$race" "$work" <<'PY'
import math, sys
report, race_file, work = sys.argv[1], sys.argv[2], sys.argv[3]
race = {}
for line in open(race_file):
    kv = dict(x.split("=", 1) for x in line.split())
    race[(kv["w"], kv["mode"], kv["q"])] = kv
def sweep(w):
    pts = []
    for line in open(f"{work}/sweep_w{w}.txt"):
        qv, b, s = line.split(); pts.append((int(qv), int(b), float(s)))
    return pts
def cli_bytes_at_ssim(pts, s):
    # Size at SSIM s along the -q:v sweep, interpolated linearly in log(bytes) over log(1 - SSIM) between the two
    # neighbouring -q:v points (the curve is close to a straight line there; linear bytes-over-SSIM would overstate
    # the CLI's size between sparse points). Beyond the sweep: its end point, flagged (> = CLI cannot reach s, so
    # its best is compared, at a lower SSIM than ours; < = below its worst).
    p = sorted((x[2], x[1]) for x in pts)
    if s <= p[0][0]: return p[0][1], "<"
    if s >= p[-1][0]: return p[-1][1], ">"
    for (s0, b0), (s1, b1) in zip(p, p[1:]):
        if s0 <= s <= s1:
            x0, x1, x = math.log(1 - s0), math.log(1 - s1), math.log(1 - s)
            return math.exp(math.log(b0) + (math.log(b1) - math.log(b0)) * (x - x0) / ((x1 - x0) or 1)), ""
print("| width | JPEG | q | bytes | SSIM | CLI bytes at this SSIM | bytes / CLI's at equal SSIM | ours ms warm / cold (encode alone) | ours CPU ms warm / cold | frames decoded | CLI -q:v closest in size: ms, CPU ms | CLI / ours, warm: wall, CPU | CLI / ours, cold: wall, CPU |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
rows = []
for line in open(report):
    w, mode, q, b, s, enc, qv, akb, aks, akenc = line.split()
    pts = sweep(w)
    r = race[(w, mode, q)]
    warm, wcpu, cold, cold_cpu, cli_ms, ccpu, frames = (float(r[k]) for k in ("warm_ms", "warm_cpu_ms", "cold_ms", "cold_cpu_ms", "cli_ms", "cli_cpu_ms", "frames"))
    label = "ours, progressive" if mode == "prog" else "ours, baseline"
    eq, flag = cli_bytes_at_ssim(pts, float(s))
    rows.append((w, 0 if mode == "base" else 1, q, f"| {w} | {label} | {q} | {int(b):,} | {float(s):.4f} | {flag}{int(eq):,} | {int(b)/eq:.2f} | "
                 f"{warm:.0f} / {cold:.0f} ({float(enc):.1f}) | {wcpu:.0f} / {cold_cpu:.0f} | {frames:.1f} | {qv}: {cli_ms:.0f}, {ccpu:.0f} | "
                 f"{cli_ms/warm:.1f}x, {ccpu/wcpu:.1f}x | {cli_ms/cold:.1f}x, {ccpu/cold_cpu:.1f}x |"))
    eq, flag = cli_bytes_at_ssim(pts, float(aks))
    rows.append((w, 2 if mode == "base" else 3, q, f"| {w} | libjpeg defaults{', progressive' if mode == 'prog' else ''} (Annex K, rounding) | {q} | {int(akb):,} | {float(aks):.4f} | {flag}{int(eq):,} | {int(akb)/eq:.2f} | "
                 f"encode alone {float(akenc):.1f} | | | | | |"))
for r in sorted(rows, key=lambda r: (-int(r[0]), r[1], -int(r[2]))):
    print(r[3])
print()
for w in ("1920", "320"):
    print(f"CLI -q:v sweep w={w} (q:v bytes SSIM): " + ", ".join(f"{qv}:{b}:{s:.4f}" for qv, b, s in sweep(w)))
PY
