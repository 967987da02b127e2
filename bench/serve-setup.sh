# Sourced by bench/serve.sh and bench/profile-serve.sh: the same files (a 1 MiB CMAF-class segment and a
# ~600 B playlist) in StreamServer's library (WORK/data/vod/bench), which nginx serves too (root WORK/data):
# the very same inodes, so both send from the same page-cache folios (a copy written differently can sit in
# differently sized folios on ext4/xfs, which alone changes sendfile's kernel cost by several percent).
# An nginx config (NGINX_WORKERS workers, default 1; sendfile on, tcp_nopush on, access_log off), and start/stop of both servers.
# Expects WORK, OURS_PORT, NGINX_PORT, NGINX_H2C_PORT; sets NGINX_PID, OURS_PID.
for tool in nginx wrk h2load curl; do command -v $tool >/dev/null || { echo "missing $tool" >&2; exit 1; }; done

DLL=src/StreamServer/bin/Release/net10.0/StreamServer.dll
[ -f "$DLL" ] || dotnet build src/StreamServer -c Release -v q >/dev/null

rm -rf "$WORK"; mkdir -p "$WORK/data/vod/bench" "$WORK/nginx/tmp"
VOD="$WORK/data/vod/bench"
dd if=/dev/urandom of="$VOD/seg_000.m4s" bs=1M count=1 status=none
{
  echo "#EXTM3U"; echo "#EXT-X-VERSION:7"; echo "#EXT-X-TARGETDURATION:4"; echo "#EXT-X-PLAYLIST-TYPE:VOD"
  echo "#EXT-X-INDEPENDENT-SEGMENTS"; echo '#EXT-X-MAP:URI="init.mp4"'
  for i in $(seq 0 14); do printf '#EXTINF:4.000000,\nseg_%03d.m4s\n' "$i"; done
  echo "#EXT-X-ENDLIST"
} > "$VOD/media.m3u8"
ABS=$(cd "$WORK" && pwd)

cat > "$WORK/nginx/nginx.conf" <<CONF
worker_processes ${NGINX_WORKERS:-1};
daemon off;
pid $ABS/nginx/nginx.pid;
error_log $ABS/nginx/error.log warn;
events { worker_connections 4096; }
http {
  types { application/vnd.apple.mpegurl m3u8; application/dash+xml mpd; video/mp4 mp4; video/iso.segment m4s; image/jpeg jpg; text/vtt vtt; }
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  client_body_temp_path $ABS/nginx/tmp; proxy_temp_path $ABS/nginx/tmp; fastcgi_temp_path $ABS/nginx/tmp;
  uwsgi_temp_path $ABS/nginx/tmp; scgi_temp_path $ABS/nginx/tmp;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    listen 127.0.0.1:$NGINX_H2C_PORT http2;
    root $ABS/data;
    location /vod/ {
      add_header Cache-Control "public, max-age=31536000, immutable";
      add_header Access-Control-Allow-Origin "*";
    }
  }
}
CONF

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# start_servers [extra env for ours...]
start_servers() {
  nginx -c "$ABS/nginx/nginx.conf" -p "$ABS/nginx" & NGINX_PID=$!; PIDS+=($NGINX_PID)
  env "$@" dotnet "$DLL" --StreamServer:DataDir="$ABS/data" --StreamServer:ListenAddress=127.0.0.1 --StreamServer:RtmpPort=-1 --StreamServer:Live:TestChannel=false --StreamServer:HttpPort=$OURS_PORT \
    --StreamServer:HttpsPort=-1 --StreamServer:GenerateSample=false --Logging:LogLevel:Default=Warning > "$WORK/server.log" 2>&1 & OURS_PID=$!; PIDS+=($OURS_PID)
  for _ in $(seq 1 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$OURS_PORT/vod/bench/media.m3u8" && curl -sf -o /dev/null "http://127.0.0.1:$NGINX_PORT/vod/bench/media.m3u8" && break
    sleep 0.2
  done
  cmp <(curl -s "http://127.0.0.1:$OURS_PORT/vod/bench/seg_000.m4s") <(curl -s "http://127.0.0.1:$NGINX_PORT/vod/bench/seg_000.m4s")
  cmp <(curl -s --http2-prior-knowledge "http://127.0.0.1:$OURS_PORT/vod/bench/media.m3u8") <(curl -s --http2-prior-knowledge "http://127.0.0.1:$NGINX_H2C_PORT/vod/bench/media.m3u8")
}
