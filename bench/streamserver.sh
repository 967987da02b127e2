# Sourced by the benches and scripts/readme-chart.sh: the Release StreamServer on 127.0.0.1 in the background.
#   start_streamserver DATADIR PORT [--Key=value ...]  cleartext only, no RTMP, no test channel, no sample clip (later
#       arguments override these), log in DATADIR/server.log; sets PID. With NETNS set it runs in that network namespace
#       (`ip netns exec` execs in place, so PID is the server's own).
#   wait_for_url URL [tries]  until URL answers 2xx (from NETNS when set), 0.2 s apart.
STREAMSERVER_DLL=src/StreamServer/bin/Release/net10.0/StreamServer.dll

start_streamserver() {
  local data=$1 port=$2
  shift 2
  [ -f "$STREAMSERVER_DLL" ] || dotnet build src/StreamServer -c Release -v q >/dev/null
  ${NETNS:+ip netns exec "$NETNS"} dotnet "$STREAMSERVER_DLL" --StreamServer:DataDir="$data" --StreamServer:ListenAddress=127.0.0.1 \
    --StreamServer:HttpPort="$port" --StreamServer:HttpsPort=-1 --StreamServer:RtmpPort=-1 --StreamServer:Live:TestChannel=false \
    --StreamServer:GenerateSample=false --Logging:LogLevel:Default=Warning "$@" > "$data/server.log" 2>&1 &
  PID=$!
}

wait_for_url() {
  for _ in $(seq 1 "${2:-100}"); do
    ${NETNS:+ip netns exec "$NETNS"} curl -sf -o /dev/null "$1" && return 0
    sleep 0.2
  done
  echo "no answer from $1" >&2
  return 1
}
