#!/usr/bin/env bash
# On-demand thumbnails: our path (seek to keyframe, decode forward, swscale, TurboJPEG from planar YUV) vs the
# ffmpeg CLI anchor `ffmpeg -ss t -i src -frames:v 1 -vf scale=w:-2 -q:v N`, on the same 1080p source, one run.
# For each width (1920 = the full frame, 320 = a typical thumbnail) and our quality 95/75/40: bytes, SSIM against
# the source frame at t (ffmpeg ssim filter, lossless Y4M reference), time per thumbnail; the CLI at the -q:v whose
# file size is closest, and the CLI's size interpolated at our SSIM (equal-quality size ratio).
# Usage: bench/thumbs.sh [runs=5]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
work=bench/.work/thumbs
mkdir -p "$work"
src="$work/src-1080p24-8M.mp4"
t=5.3 # mid-GOP (keyframes every 2 s): both sides seek to 4.0 s and decode forward

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
now_ms() { echo $(( $(date +%s%N) / 1000 )); } # microseconds

report="$work/report.txt"
: > "$report"
for w in 1920 320; do
  ref="$work/ref_w$w.y4m"
  ffmpeg -nostdin -hide_banner -loglevel error -y -ss "$t" -i "$src" -frames:v 1 -vf "scale=$w:-2:flags=bicubic" -pix_fmt yuv420p "$ref"

  # CLI sweep over -q:v: size and SSIM of each.
  sweep="$work/sweep_w$w.txt"
  : > "$sweep"
  for qv in 2 3 4 5 6 8 10 13 17 24 31; do
    out="$work/cli_w${w}_qv$qv.jpg"
    cli "$w" "$qv" "$out" 2>/dev/null
    echo "$qv $(stat -c %s "$out") $(ssim "$out" "$ref")" >> "$sweep"
  done

  # Ours, baseline (optimized Huffman) and progressive: bytes + warm/cold time per quality.
  THUMBS_PROGRESSIVE=0 dotnet "$tool" "$src" "$t" "$w" "$work/base" "$runs" 95 75 40 > "$work/ours_w$w.txt"
  THUMBS_PROGRESSIVE=1 dotnet "$tool" "$src" "$t" "$w" "$work/prog" "$runs" 95 75 40 >> "$work/ours_w$w.txt"
  while read -r line; do
    q=$(sed -n 's/.*q=\([0-9]*\).*/\1/p' <<<"$line")
    bytes=$(sed -n 's/.*bytes=\([0-9]*\).*/\1/p' <<<"$line")
    warm=$(sed -n 's/.*warm_ms=\([0-9.]*\).*/\1/p' <<<"$line")
    cold=$(sed -n 's/.*cold_ms=\([0-9.]*\).*/\1/p' <<<"$line")
    enc=$(sed -n 's/.*encode_ms=\([0-9.]*\).*/\1/p' <<<"$line")
    mode=base; [[ $line == *progressive=True* ]] && mode=prog
    ours_ssim=$(ssim "$work/$mode/ours_q${q}_w$w.jpg" "$ref")
    # CLI -q:v with the closest file size, timed over $runs runs (whole invocation: what a per-request CLI costs).
    qv=$(awk -v b="$bytes" '{d=$2-b; if(d<0)d=-d; if(best==""||d<best){best=d;q=$1}} END{print q}' "$sweep")
    times=()
    for ((r = 0; r < runs; r++)); do
      s=$(now_ms); cli "$w" "$qv" "$work/cli_timed.jpg" 2>/dev/null; e=$(now_ms)
      times+=($(( e - s )))
    done
    cli_us=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
    echo "$w $mode $q $bytes $ours_ssim $warm $cold $enc $qv $cli_us" >> "$report"
  done < "$work/ours_w$w.txt"
done

python3 - "$report" "$work" <<'PY'
import sys
report, work = sys.argv[1], sys.argv[2]
def sweep(w):
    pts = []
    for line in open(f"{work}/sweep_w{w}.txt"):
        qv, b, s = line.split(); pts.append((int(qv), int(b), float(s)))
    return pts
def cli_bytes_at_ssim(pts, s):
    # Linear interpolation of size over SSIM along the -q:v sweep (sorted by SSIM).
    p = sorted((x[2], x[1]) for x in pts)
    if s <= p[0][0]: return p[0][1], False
    if s >= p[-1][0]: return p[-1][1], s > p[-1][0]
    for (s0, b0), (s1, b1) in zip(p, p[1:]):
        if s0 <= s <= s1:
            return b0 + (b1 - b0) * (s - s0) / (s1 - s0 or 1), False
print("| width | ours JPEG | q | ours bytes | ours SSIM | ours ms warm / cold (encode alone) | CLI -q:v (closest size) | CLI bytes | CLI SSIM | CLI ms | CLI bytes at our SSIM | ours/CLI bytes at equal SSIM | CLI ms / ours ms warm, cold |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for line in open(report):
    w, mode, q, b, s, warm, cold, enc, qv, cli_us = line.split()
    pts = sweep(w)
    cb, cs = next((x[1], x[2]) for x in pts if x[0] == int(qv))
    eq, beyond = cli_bytes_at_ssim(pts, float(s))
    cli_ms = int(cli_us) / 1000
    label = "progressive" if mode == "prog" else "baseline"
    print(f"| {w} | {label} | {q} | {int(b):,} | {float(s):.4f} | {float(warm):.0f} / {float(cold):.0f} ({float(enc):.2f}) | {qv} | {cb:,} | {cs:.4f} | {cli_ms:.0f} | "
          f"{'>' if beyond else ''}{int(eq):,} | {int(b)/eq:.2f} | {cli_ms/float(warm):.1f}x / {cli_ms/float(cold):.1f}x |")
print()
for w in ("1920", "320"):
    print(f"CLI -q:v sweep w={w} (q:v bytes SSIM): " + ", ".join(f"{qv}:{b}:{s:.4f}" for qv, b, s in sweep(w)))
PY
