#!/usr/bin/env bash
# Builds oxeye, runs `oxeye serve` on its defaults (data in ./oxeye-data), writes a few samples through the
# Prometheus text import and reads them back through the Prometheus API and a PromQL query, then pushes log lines
# through Loki's push API and reads them back with LogQL. oxeye keeps running until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/oxeye-target}"
cargo build --release -p oxeye
bin="$CARGO_TARGET_DIR/release/oxeye"
"$bin" --version
"$bin" serve "$@" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid' EXIT INT TERM
for _ in $(seq 1 100); do
  curl -sf http://127.0.0.1:9800/ready >/dev/null && break
  sleep 0.1
done
now_ms=$(($(date +%s) * 1000))
printf '# HELP demo_temperature_celsius Room temperature.\n# TYPE demo_temperature_celsius gauge\ndemo_temperature_celsius{room="kitchen"} 21.5 %s\ndemo_temperature_celsius{room="office"} 19 %s\n' \
  "$now_ms" "$now_ms" | curl -sf --data-binary @- http://127.0.0.1:9800/api/v1/import/prometheus
echo "-- series:";   curl -s 'http://127.0.0.1:9800/api/v1/series?match[]=demo_temperature_celsius'; echo
echo "-- metadata:"; curl -s 'http://127.0.0.1:9800/api/v1/metadata?metric=demo_temperature_celsius'; echo
echo "-- samples:";  curl -s 'http://127.0.0.1:9800/api/v1/export?match[]=demo_temperature_celsius'
echo "-- PromQL:";   curl -s http://127.0.0.1:9800/api/v1/query --data-urlencode 'query=avg(demo_temperature_celsius)'; echo
now_ns="$(date +%s)000000000"
printf '{"streams":[{"stream":{"app":"demo","env":"dev"},"values":[["%s","level=info msg=\\"user logged in\\" user=ada"],["%s","level=error msg=\\"payment failed\\" user=bob"]]}]}' \
  "$now_ns" "$((now_ns + 1))" | curl -sf -H 'Content-Type: application/json' --data-binary @- http://127.0.0.1:9800/loki/api/v1/push
echo "-- log labels:"; curl -s 'http://127.0.0.1:9800/loki/api/v1/labels'; echo
echo "-- LogQL:";      curl -s -G http://127.0.0.1:9800/loki/api/v1/query_range --data-urlencode 'query={app="demo"} | logfmt | level="error"' \
  --data-urlencode 'limit=10' | head -c 400; echo
echo "oxeye is serving on http://127.0.0.1:9800 (OTLP gRPC :4317, HTTP :4318). Ctrl-C to stop."
wait $pid
