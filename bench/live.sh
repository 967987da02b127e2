#!/usr/bin/env bash
# Live: StreamServer (pass-through, LL-HLS) next to nginx with libnginx-mod-rtmp (hls on), both fed by ONE ffmpeg
# publish (tee muxer: the same packets reach both at the same moment), 1 s GOP and 1 s segments in both.
#
#   [SECONDS_RUN=40] [PART=0.2] [CHANNELS=50] [PHASES="1 2 3 4"] [PLAYER_SECONDS=120] [VIEWERS=1000] [DVR=60] [PROFILE=f.data] [STRACE=f.txt] [OURS_ARGS="--StreamServer:..."] [REPEAT=1] bench/live.sh
#
# Phase 1 (one channel, SECONDS_RUN): a poller reads both media playlists every 20 ms and records when each segment
# (and, for us, each part) first appears. Reported per server:
#   - publish delay: first seen - wall-clock time its last frame was sent (the next segment's keyframe, for a segment);
#   - edge age: at each poll, now - wall-clock time of the newest media listed (what a player could have at best);
#   - player latency by the spec: edge age + the hold-back a conforming player keeps (3 x target duration for legacy
#     HLS, RFC 8216 6.3.3; PART-HOLD-BACK for LL-HLS), i.e. glass-to-glass minus the player's own buffering slack;
#   - CPU seconds used by each server process over the run (per pass-through channel).
# Phase 2 (CHANNELS channels): CHANNELS ffmpeg -c copy publishers, each teed into both servers; every channel's playlist
# must advance; CPU per channel of each server over the same 15 s of steady state (three 5 s slices) (from 15 s after the publishers start: ours JIT-compiles the
# code the channels bring hot in their first seconds, a one-time cost reported separately). The publishers' CPU is not
# counted. REPEAT=n runs n rounds of publishers on the same two servers and prints the median ratio. PROFILE=f.data also samples our process with perf over the steady state (perf report -i f.data; .NET frames are
# named through the perf map the server then writes to /tmp); STRACE=f.txt counts its system calls over 10 s of it
# (strace slows the server while it counts: the CPU figures of such a run are not comparable).
# The wall clock of media time 0 is taken when ffmpeg starts (-re); both servers share that error.
# Phase 3 (real players, PLAYER_SECONDS each): hls.js in Chromium in low-latency mode on our test channel with 0.2 s,
# 0.333 s and 1 s parts, and shaka in low-latency mode on its LL-DASH MPD (0.2 s chunks): latency behind the wall clock
# sampled twice a second (median, p95), stalls. Run through the player test (tests/.../Players), which asserts the same.
# Phase 4 (VIEWERS LL-HLS viewers, the load tool's ll-hls scenario, 60 s each, on one 640x360 publish): without and with
# delta updates (_HLS_skip=YES): errors, part and playlist TTFB, the server's answer time after a part is published
# (streamserver_live_reload_answer_seconds, the bucket its p50/p99 fall in), server CPU per viewer, playlist KiB per minute
# per viewer.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_RUN=${SECONDS_RUN:-40}
PART=${PART:-0.2}
PHASES=${PHASES:-"1 2 3 4"}
[ "${PHASE1:-1}" = 0 ] && PHASES=${PHASES/1/}
PLAYER_SECONDS=${PLAYER_SECONDS:-120}
VIEWERS=${VIEWERS:-1000}
CHANNELS=${CHANNELS:-50}
REPEAT=${REPEAT:-1}
WORK=${WORK:-/tmp/ss-bench-live}
OURS_HTTP=18481; OURS_RTMP=19351; NGINX_HTTP=18482; NGINX_RTMP=19352
for tool in nginx ffmpeg curl python3; do command -v $tool >/dev/null || { echo "missing $tool" >&2; exit 1; }; done
MODULE=/usr/lib/nginx/modules/ngx_rtmp_module.so
[ -f "$MODULE" ] || { echo "missing libnginx-mod-rtmp ($MODULE)" >&2; exit 1; }

DLL=src/StreamServer/bin/Release/net10.0/StreamServer.dll
[ -f "$DLL" ] || dotnet build src/StreamServer -c Release -v q >/dev/null
# Both keep their live windows on tmpfs (our default; nginx-rtmp's documentation recommends it for hls_path).
SHM=/dev/shm/ss-bench-live
rm -rf "$WORK" "$SHM"; mkdir -p "$WORK/data" "$WORK/nginx/tmp" "$SHM/nginx-hls"
ABS=$(cd "$WORK" && pwd)

cat > "$WORK/nginx/nginx.conf" <<CONF
load_module $MODULE;
worker_processes 1;
daemon off;
pid $ABS/nginx/nginx.pid;
error_log $ABS/nginx/error.log warn;
events { worker_connections 4096; }
rtmp {
  server {
    listen 127.0.0.1:$NGINX_RTMP;
    chunk_size 4096;
    application live {
      live on;
      hls on;
      hls_path $SHM/nginx-hls;
      hls_fragment 1s;
      hls_playlist_length 6s;
    }
  }
}
http {
  types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
  sendfile on; tcp_nopush on; access_log off;
  client_body_temp_path $ABS/nginx/tmp; proxy_temp_path $ABS/nginx/tmp; fastcgi_temp_path $ABS/nginx/tmp;
  uwsgi_temp_path $ABS/nginx/tmp; scgi_temp_path $ABS/nginx/tmp;
  server {
    listen 127.0.0.1:$NGINX_HTTP;
    location /hls/ { alias $SHM/nginx-hls/; add_header Cache-Control no-cache; }
  }
}
CONF

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$SHM"; }
trap cleanup EXIT

channel_args=()
for i in $(seq 0 "$CHANNELS"); do
  channel_args+=("--StreamServer:Live:Channels:$i:Name=c$i" "--StreamServer:Live:Channels:$i:Key=k")
done
# c0 keeps a DVR window of DVR seconds, longer than CAN-SKIP-UNTIL (6 s), so delta updates have something to leave out.
channel_args+=("--StreamServer:Live:Channels:0:DvrSeconds=${DVR:-60}")
[ -n "${PROFILE:-}" ] && export DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0
dotnet "$DLL" --StreamServer:DataDir="$ABS/data" --StreamServer:ListenAddress=127.0.0.1 --StreamServer:HttpPort=$OURS_HTTP \
  --StreamServer:HttpsPort=-1 --StreamServer:RtmpPort=$OURS_RTMP --StreamServer:GenerateSample=false \
  --StreamServer:Live:TestChannel=false --StreamServer:Live:SegmentSeconds=1 --StreamServer:Live:PartSeconds=$PART \
  --StreamServer:Live:WindowDirectory="$SHM/ours" --StreamServer:Tracing:Enabled=false --Logging:LogLevel:Default=Warning \
  "${channel_args[@]}" ${OURS_ARGS:-} > "$WORK/ours.log" 2>&1 & OURS_PID=$!; PIDS+=($OURS_PID)
nginx -c "$ABS/nginx/nginx.conf" -p "$ABS/nginx" & NGINX_PID=$!; PIDS+=($NGINX_PID)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$OURS_HTTP/healthz" >/dev/null && break; sleep 0.2; done

cpu() { # utime+stime in seconds of a pid and its children (nginx: master + worker)
  local total=0
  for p in "$1" $(pgrep -P "$1" || true); do
    read -r -a f < "/proc/$p/stat"; total=$((total + f[13] + f[14]))
  done
  echo "$total $(getconf CLK_TCK)" | awk '{printf "%.2f", $1 / $2}'
}

if [[ " $PHASES " == *" 1 "* ]]; then
echo "== phase 1: one publish into both, ${SECONDS_RUN}s, 640x360 30 fps, GOP 1 s, segments 1 s, our parts ${PART} s"
ours_cpu0=$(cpu $OURS_PID); nginx_cpu0=$(cpu $NGINX_PID)
T0=$(date +%s.%N)
ffmpeg -hide_banner -loglevel error -re -f lavfi -i "testsrc2=size=640x360:rate=30" -f lavfi -i "sine=frequency=440:sample_rate=48000" \
  -t "$SECONDS_RUN" -c:v libx264 -preset veryfast -tune zerolatency -g 30 -keyint_min 30 -sc_threshold 0 -b:v 1M -pix_fmt yuv420p \
  -c:a aac -b:a 96k -map 0:v -map 1:a -flags +global_header \
  -f tee "[f=flv:onfail=ignore]rtmp://127.0.0.1:$OURS_RTMP/live/c0?key=k|[f=flv:onfail=ignore]rtmp://127.0.0.1:$NGINX_RTMP/live/c0" &
FF=$!
python3 - "$T0" "$SECONDS_RUN" "$PART" "http://127.0.0.1:$OURS_HTTP/live/c0/video/index.m3u8" "http://127.0.0.1:$NGINX_HTTP/hls/c0.m3u8" > "$WORK/phase1.txt" <<'PY'
import sys, time, urllib.request, statistics
t0, run, part_target = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
urls = {"ours": sys.argv[4], "nginx": sys.argv[5]}
def parse(text):
    seq, items, media, target, hold = 0, [], 0.0, 0.0, None
    lines = text.splitlines()
    for l in lines:
        if l.startswith("#EXT-X-MEDIA-SEQUENCE:"): seq = int(l.split(":")[1])
        if l.startswith("#EXT-X-TARGETDURATION:"): target = float(l.split(":")[1])
        if l.startswith("#EXT-X-SERVER-CONTROL:") and "PART-HOLD-BACK=" in l: hold = float(l.split("PART-HOLD-BACK=")[1].split(",")[0])
    return seq, lines, target, hold
seen, edge = {k: {} for k in urls}, {k: [] for k in urls}
holdback = {}
end = time.time() + run - 1
while time.time() < end:
    for name, url in urls.items():
        try: text = urllib.request.urlopen(url, timeout=2).read().decode()
        except Exception: continue
        now = time.time()
        seq, lines, target, hold = parse(text)
        holdback[name] = hold if hold else 3 * target
        # Segment k (EXT-X-MEDIA-SEQUENCE counting) covers media [k - first, k - first + 1): 1 s segments from media
        # time 0; ours numbers from 1, nginx-rtmp from 0. Parts listed after the last EXTINF belong to the open segment.
        first = 1 if name == "ours" else 0
        n, open_parts = seq, 0.0
        for l in lines:
            if l.startswith("#EXTINF:"):
                open_parts = 0.0
            elif l.startswith("#EXT-X-PART:"):
                open_parts += float(l.split("DURATION=")[1].split(",")[0])
                seen[name].setdefault(("part", l.split('URI=')[1]), now)  # URI and BYTERANGE: one key per part
            elif l and not l.startswith("#"):
                seen[name].setdefault(("seg", n), now)
                n += 1
        if n > seq:
            edge[name].append(now - (t0 + (n - first) + open_parts))
    time.sleep(0.02)
for name in urls:
    segs = sorted(k[1] for k in seen[name] if k[0] == "seg")
    first = 1 if name == "ours" else 0
    delays = [seen[name][("seg", s)] - (t0 + (s - first + 1)) for s in segs[1:]]  # the first seen may predate polling
    e = edge[name]
    if not delays or not e:
        print(f"{name}: no segments seen"); continue
    print(f"{name}: segments seen {len(segs)}, segment publish delay median {statistics.median(delays)*1000:.0f} ms p90 {sorted(delays)[int(len(delays)*0.9)]*1000:.0f} ms; "
          f"edge age median {statistics.median(e)*1000:.0f} ms; hold-back {holdback[name]:.2f} s; player latency by the spec {statistics.median(e)+holdback[name]:.2f} s")
PY
wait $FF || true
ours_cpu1=$(cpu $OURS_PID); nginx_cpu1=$(cpu $NGINX_PID)
cat "$WORK/phase1.txt"
echo "cpu over ${SECONDS_RUN}s, one channel (with the 50/s playlist poller, ours incl. JIT warm-up): ours $(echo "$ours_cpu1 $ours_cpu0" | awk '{printf "%.2f", $1-$2}') s, nginx-rtmp $(echo "$nginx_cpu1 $nginx_cpu0" | awk '{printf "%.2f", $1-$2}') s"
python3 - "$WORK/phase1.txt" <<'PY'
import sys, re
t = open(sys.argv[1]).read()
lat = dict(re.findall(r"^(\w+):.*player latency by the spec ([0-9.]+) s", t, re.M))
if "ours" in lat and "nginx" in lat:
    print(f"latency ratio ours / nginx-rtmp: {float(lat['ours']) / float(lat['nginx']):.2f}x (target <= 0.5x)")
PY

fi

if [[ " $PHASES " == *" 2 "* ]]; then
echo "== phase 2: $CHANNELS pass-through channels (ffmpeg -c copy, each publish teed into both servers), CPU of each server over the same windows: 15 s to 30 s after the publishers start (steady state, in 5 s slices) and their first 15 s"
SRC="$WORK/src.flv"
ffmpeg -hide_banner -loglevel error -f lavfi -i "testsrc2=size=640x360:rate=30" -f lavfi -i "sine=frequency=440:sample_rate=48000" \
  -t 40 -c:v libx264 -preset veryfast -g 30 -sc_threshold 0 -b:v 800k -pix_fmt yuv420p -c:a aac -b:a 96k -y "$SRC"
for round in $(seq 1 "$REPEAT"); do
PUBS=()
for i in $(seq 1 "$CHANNELS"); do
  ffmpeg -hide_banner -loglevel error -re -i "$SRC" -t 34 -c copy -map 0 -f tee \
    "[f=flv:onfail=ignore]rtmp://127.0.0.1:$OURS_RTMP/live/c$i?key=k|[f=flv:onfail=ignore]rtmp://127.0.0.1:$NGINX_RTMP/live/c$i" \
    </dev/null >/dev/null 2>&1 & PUBS+=($!)
done
# Both servers are sampled at the same instants, so whatever else the machine does in a slice weighs on both.
ow=$(cpu $OURS_PID); nw=$(cpu $NGINX_PID); sleep 15
o=("$(cpu $OURS_PID)"); n=("$(cpu $NGINX_PID)")
PERF_PID=
[ -n "${PROFILE:-}" ] && { perf record -q -F 499 -g -p "$OURS_PID" -o "$PROFILE" -- sleep 15 >/dev/null 2>&1 & PERF_PID=$!; }
[ -n "${STRACE:-}" ] && { timeout -s INT 10 strace -c -f -p "$OURS_PID" -o "$STRACE" >/dev/null 2>&1 & }
for _ in 1 2 3; do sleep 5; o+=("$(cpu $OURS_PID)"); n+=("$(cpu $NGINX_PID)"); done
for s in 1 2 3; do
  echo "$s ${o[$((s-1))]} ${o[$s]} ${n[$((s-1))]} ${n[$s]} $CHANNELS" | awk '{printf "slice %d: ours %.2f ms/s per channel, nginx-rtmp %.2f ms/s per channel, ratio %.2fx\n", $1, ($3-$2)/5/$6*1000, ($5-$4)/5/$6*1000, ($3-$2)/($5-$4)}'
done
for server in ours nginx; do
  live=0
  for i in $(seq 1 "$CHANNELS"); do
    if [ $server = ours ]; then url="http://127.0.0.1:$OURS_HTTP/live/c$i/video/index.m3u8"; else url="http://127.0.0.1:$NGINX_HTTP/hls/c$i.m3u8"; fi
    c=$(curl -sf "$url" | grep -c EXTINF || true); [ "${c:-0}" -ge 3 ] && live=$((live + 1))
  done
  echo "$server: $live/$CHANNELS channels live after 30 s"
done
for p in "${PUBS[@]}"; do wait "$p" 2>/dev/null || true; done
[ -n "$PERF_PID" ] && wait "$PERF_PID" 2>/dev/null
echo "$ow ${o[0]} ${o[3]} $nw ${n[0]} ${n[3]} $CHANNELS" | tee -a "$WORK/phase2.txt" | awk '{printf "steady state (15-30 s): ours %.2f ms/s per channel, nginx-rtmp %.2f ms/s per channel: ratio %.2fx (target <= 1.0x); first 15 s: ours %.2f, nginx-rtmp %.2f ms/s per channel\n", ($3-$2)/15/$7*1000, ($6-$5)/15/$7*1000, ($3-$2)/($6-$5), ($2-$1)/15/$7*1000, ($5-$4)/15/$7*1000}'
done
if [ "$REPEAT" -gt 1 ]; then
  # The ratio moves from round to round with how the publishers' packets happen to interleave: the median says more.
  awk '{printf "%.4f\n", ($3-$2)/($6-$5)}' "$WORK/phase2.txt" | sort -n | awk '{r[NR]=$1} END {
    printf "median of %d rounds: ratio %.2fx (target <= 1.0x; rounds sorted:", NR, r[int((NR+1)/2)]; for (i=1;i<=NR;i++) printf " %.2f", r[i]; print ")"}'
fi
fi

if [[ " $PHASES " == *" 3 "* ]]; then
echo "== phase 3: real players on our test channel, ${PLAYER_SECONDS}s each (1 s segments)"
for run in "hls 0.2" "hls 0.333" "hls 1" "shaka 0.2"; do
  set -- $run
  line=$(LL_PLAYER_SECONDS=$PLAYER_SECONDS LL_PART_SECONDS=$2 dotnet test tests/StreamServer.Tests -c Release --no-build \
    --filter "FullyQualifiedName~PlayerPlaysTheLiveTestChannelAtLowLatency&DisplayName~$1" --logger "console;verbosity=detailed" 2>&1 \
    | grep -a -m1 -oE "(PASS|FAIL) (hls|shaka).*" || echo "FAIL no report")
  echo "$1 parts $2 s: $line"
done
fi

if [[ " $PHASES " == *" 4 "* ]]; then
echo "== phase 4: $VIEWERS LL-HLS viewers on one channel (0.2 s parts, 1 s segments), 60 s without and with delta updates"
ffmpeg -hide_banner -loglevel error -re -f lavfi -i "testsrc2=size=640x360:rate=30" -f lavfi -i "sine=frequency=440:sample_rate=48000" \
  -t 200 -c:v libx264 -preset veryfast -tune zerolatency -g 30 -keyint_min 30 -sc_threshold 0 -b:v 1M -pix_fmt yuv420p \
  -c:a aac -b:a 96k -f flv "rtmp://127.0.0.1:$OURS_RTMP/live/c0?key=k" </dev/null >/dev/null 2>&1 & PUB=$!; PIDS+=($PUB)
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$OURS_HTTP/live/c0/master.m3u8" >/dev/null && break; sleep 0.2; done
sleep 3
answer() { # p50 and p99 (ms) of the reload answer histogram between two scrapes: the bucket each falls in
  python3 - "$1" "$2" <<'PY'
import sys, re
def buckets(path):
    b = {}
    for l in open(path):
        m = re.match(r'streamserver_live_reload_answer_seconds_bucket\{le="([^"]+)"\} (\S+)', l)
        if m: b[m.group(1)] = float(m.group(2))
    return b
a, z = buckets(sys.argv[1]), buckets(sys.argv[2])
keys = sorted(z, key=lambda k: float("inf") if k == "+Inf" else float(k))
total = z["+Inf"] - a.get("+Inf", 0)
def q(p):
    lower = "0"
    for k in keys:
        if z[k] - a.get(k, 0) >= p * total: return f"{lower}-" + ("inf" if k == "+Inf" else f"{float(k)*1000:g}") + " ms"
        lower = f"{float(k)*1000:g}"
print(f"answers {total:.0f}, p50 {q(0.5)}, p99 {q(0.99)}")
PY
}
for mode in "" "--delta"; do
  curl -s "http://127.0.0.1:$OURS_HTTP/metrics" > "$WORK/m0.txt"; c0=$(cpu $OURS_PID); w0=$(date +%s.%N)
  dotnet loadtest/bin/Release/net10.0/LoadTest.dll --url "http://127.0.0.1:$OURS_HTTP/live/c0/master.m3u8" --scenario ll-hls \
    --players "$VIEWERS" --ramp 10s --duration 60s --quiet $mode > "$WORK/ll$mode.txt" 2>&1 || true
  c1=$(cpu $OURS_PID); w1=$(date +%s.%N); curl -s "http://127.0.0.1:$OURS_HTTP/metrics" > "$WORK/m1.txt"
  echo "-- ${mode:-full playlists}"
  grep -E "^requests|^latency|^live latency|^players|^playlist bytes" "$WORK/ll$mode.txt" || tail -5 "$WORK/ll$mode.txt"
  echo "server answer after publish: $(answer "$WORK/m0.txt" "$WORK/m1.txt")"
  kib=$(grep -oE "playlist bytes [0-9]+ \(([0-9.]+) KiB per minute" "$WORK/ll$mode.txt" | grep -oE "[0-9.]+ KiB" | cut -d' ' -f1)
  echo "$c0 $c1 $VIEWERS ${kib:-0} $w0 $w1" | awk '{w=$6-$5; printf "server CPU %.1f%% of one core over the run (%.0f s): %.3f ms/s per viewer; playlists %.1f KiB per minute per viewer\n", ($2-$1)/w*100, w, ($2-$1)/w/$3*1000, $4/$3}'
done
kill $PUB 2>/dev/null || true
fi
