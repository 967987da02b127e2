#!/usr/bin/env bash
# On-demand thumbnails: our path (seek to keyframe, decode forward, swscale, our libjpeg encoder from planar YUV:
# SSIM-tuned tables + trellis quantization) vs the ffmpeg CLI anchor `ffmpeg -ss t -i src -frames:v 1 -vf
# scale=w:-2 -q:v N`, on the same 1080p source, one run. For each width (1920 = the full frame, 320 = a typical
# thumbnail) and our quality 95/75/40: bytes, SSIM against the source frame at t (ffmpeg ssim filter, lossless Y4M
# reference), time per thumbnail; the CLI's size at our SSIM, interpolated over a sweep of every -q:v (2..31, plus
# -qmin 1 -q:v 1, the best mjpeg can do); the CLI's wall and CPU time at the -q:v closest in size (CPU time = user +
# system over all threads: the cost of a thumbnail, much less disturbed by other load on the machine than wall time). Also the same scaled frame
# encoded with libjpeg's defaults (Annex K tables, round-to-nearest: what TurboJPEG wrote before), for reference.
# Requests ask for distinct times (round-robin over $tlist, so no two consecutive requests want the same frame; 5.3 s
# first, the frame whose bytes and SSIM are reported) with the thumbnail cache disabled, so every request renders; both
# sides render the same times. Ours "warm" = the opened source (demuxer + decoder) kept between requests, as the server
# keeps opened renditions (it holds no frames or results); "cold" = a fresh service per request.
# Usage: bench/thumbs.sh [rounds=2]   (each timing = rounds x 6 times)
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
cli() { ffmpeg -nostdin -hide_banner -loglevel error -y -ss "${4:-$t}" -i "$src" -frames:v 1 -vf "scale=$1:-2" -q:v "$2" "$3"; }
now_ms() { echo $(( $(date +%s%N) / 1000 )); } # microseconds

report="$work/report.txt"
: > "$report"
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

  # Ours, baseline and progressive (both with optimized Huffman tables): bytes + warm/cold time per quality.
  THUMBS_PROGRESSIVE=0 dotnet "$tool" "$src" "$tlist" "$w" "$work/base" "$runs" 95 75 40 > "$work/ours_w$w.txt"
  THUMBS_PROGRESSIVE=1 dotnet "$tool" "$src" "$tlist" "$w" "$work/prog" "$runs" 95 75 40 >> "$work/ours_w$w.txt"
  while read -r line; do
    q=$(sed -n 's/.*q=\([0-9]*\).*/\1/p' <<<"$line")
    bytes=$(sed -n 's/.* bytes=\([0-9]*\).*/\1/p' <<<"$line")
    warm=$(sed -n 's/.*warm_ms=\([0-9.]*\).*/\1/p' <<<"$line")
    warmcpu=$(sed -n 's/.*warm_cpu_ms=\([0-9.]*\).*/\1/p' <<<"$line")
    cold=$(sed -n 's/.*cold_ms=\([0-9.]*\).*/\1/p' <<<"$line")
    coldcpu=$(sed -n 's/.*cold_cpu_ms=\([0-9.]*\).*/\1/p' <<<"$line")
    frames=$(sed -n 's/.*frames=\([0-9.]*\).*/\1/p' <<<"$line")
    enc=$(sed -n 's/.* encode_ms=\([0-9.]*\).*/\1/p' <<<"$line")
    akbytes=$(sed -n 's/.*annexk_bytes=\([0-9]*\).*/\1/p' <<<"$line")
    akenc=$(sed -n 's/.*annexk_encode_ms=\([0-9.]*\).*/\1/p' <<<"$line")
    mode=base; [[ $line == *progressive=True* ]] && mode=prog
    ours_ssim=$(ssim "$work/$mode/ours_q${q}_w$w.jpg" "$ref")
    ak_ssim=$(ssim "$work/$mode/annexk_q${q}_w$w.jpg" "$ref")
    # CLI -q:v with the closest file size, timed over the same requests as ours (whole invocation: what a per-request
    # CLI costs).
    qv=$(awk -v b="$bytes" '{d=$2-b; if(d<0)d=-d; if(best==""||d<best){best=d;q=$1}} END{print q}' "$sweep")
    # Wall time (median) and CPU time (user + system of ffmpeg and its threads, mean) per invocation.
    walls=()
    cpu=0
    n=0
    for ((r = 0; r < runs; r++)); do
      for tt in ${tlist//,/ }; do
        s=$(now_ms)
        c=$( { TIMEFORMAT='%3U %3S'; time cli "$w" "$qv" "$work/cli_timed.jpg" "$tt" 2>/dev/null; } 2>&1 | awk '{printf "%d", ($1 + $2) * 1000}')
        e=$(now_ms)
        walls+=($(( e - s )))
        cpu=$(( cpu + c ))
        n=$(( n + 1 ))
      done
    done
    cli_us=$(printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
    cli_cpu_ms=$(( cpu / n ))
    echo "$w $mode $q $bytes $ours_ssim $warm $cold $enc $qv $cli_us $akbytes $ak_ssim $akenc $warmcpu $cli_cpu_ms $coldcpu $frames" >> "$report"
  done < "$work/ours_w$w.txt"
done

python3 - "$report" "$work" <<'PY'
import math, sys
report, work = sys.argv[1], sys.argv[2]
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
    w, mode, q, b, s, warm, cold, enc, qv, cli_us, akb, aks, akenc, wcpu, ccpu, cold_cpu, frames = line.split()
    pts = sweep(w)
    cli_ms = int(cli_us) / 1000
    label = "ours, progressive" if mode == "prog" else "ours, baseline"
    eq, flag = cli_bytes_at_ssim(pts, float(s))
    rows.append((w, 0 if mode == "base" else 1, q, f"| {w} | {label} | {q} | {int(b):,} | {float(s):.4f} | {flag}{int(eq):,} | {int(b)/eq:.2f} | "
                 f"{float(warm):.0f} / {float(cold):.0f} ({float(enc):.1f}) | {float(wcpu):.0f} / {float(cold_cpu):.0f} | {float(frames):.1f} | {qv}: {cli_ms:.0f}, {int(ccpu)} | "
                 f"{cli_ms/float(warm):.1f}x, {int(ccpu)/float(wcpu):.1f}x | {cli_ms/float(cold):.1f}x, {int(ccpu)/float(cold_cpu):.1f}x |"))
    eq, flag = cli_bytes_at_ssim(pts, float(aks))
    rows.append((w, 2 if mode == "base" else 3, q, f"| {w} | libjpeg defaults{', progressive' if mode == 'prog' else ''} (Annex K, rounding) | {q} | {int(akb):,} | {float(aks):.4f} | {flag}{int(eq):,} | {int(akb)/eq:.2f} | "
                 f"encode alone {float(akenc):.1f} | | | | | |"))
for r in sorted(rows, key=lambda r: (-int(r[0]), r[1], -int(r[2]))):
    print(r[3])
print()
for w in ("1920", "320"):
    print(f"CLI -q:v sweep w={w} (q:v bytes SSIM): " + ", ".join(f"{qv}:{b}:{s:.4f}" for qv, b, s in sweep(w)))
PY
