#!/usr/bin/env bash
# Starts Debian's Prometheus scraping a running StreamServer every 5 s with the shipped recording and alert rules
# (ops/prometheus/) and exemplar storage on (the request ids our latency buckets carry in OpenMetrics). Its UI and API on
# http://127.0.0.1:$PROMETHEUS_PORT (/alerts, /graph); import dashboards/streamserver.json into Grafana over it for the
# heatmaps. Stops with Ctrl-C; data under $WORK.
#   STREAMSERVER_TARGET=127.0.0.1:8080 PROMETHEUS_PORT=9090 scripts/observe.sh
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${STREAMSERVER_TARGET:-127.0.0.1:8080}
PORT=${PROMETHEUS_PORT:-9090}
SCRAPE=${SCRAPE_INTERVAL:-5s}
WORK=${WORK:-data/prometheus}
command -v prometheus >/dev/null || { echo "observe: prometheus is not installed (scripts/setup.sh installs it)" >&2; exit 1; }
mkdir -p "$WORK/rules"
cp ops/prometheus/rules/*.yml "$WORK/rules/"
sed -e "s/\"127.0.0.1:8080\"/\"$TARGET\"/" -e "s/^\(  scrape_interval:\).*/\1 $SCRAPE/" -e "s/^\(  evaluation_interval:\).*/\1 $SCRAPE/" \
  ops/prometheus/prometheus.yml > "$WORK/prometheus.yml"
promtool check config "$WORK/prometheus.yml" >/dev/null
echo "observe: Prometheus on http://127.0.0.1:$PORT scraping http://$TARGET/metrics every $SCRAPE"
exec prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
  --web.listen-address="127.0.0.1:$PORT" --storage.tsdb.retention.time=2d --log.level=warn --enable-feature=exemplar-storage
