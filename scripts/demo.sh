#!/usr/bin/env bash
# Builds oxeye, runs `oxeye serve` on its defaults (data in ./oxeye-data), writes a few samples through the
# Prometheus text import and reads them back through the Prometheus API and a PromQL query, then pushes log lines
# through Loki's push API and reads them back with LogQL, then sends a two-span trace as OTLP/JSON and finds it
# with TraceQL and by id. oxeye keeps running until Ctrl-C.
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
start_ns="$(date +%s)000000000"
trace_id="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
printf '{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"demo-shop"}}]},"scopeSpans":[{"spans":[%s,%s]}]}]}' \
  "{\"traceId\":\"$trace_id\",\"spanId\":\"00000000000000a1\",\"name\":\"GET /checkout\",\"kind\":2,\"startTimeUnixNano\":\"$start_ns\",\"endTimeUnixNano\":\"$((start_ns + 120000000))\"}" \
  "{\"traceId\":\"$trace_id\",\"spanId\":\"00000000000000a2\",\"parentSpanId\":\"00000000000000a1\",\"name\":\"charge card\",\"kind\":3,\"startTimeUnixNano\":\"$((start_ns + 1000000))\",\"endTimeUnixNano\":\"$((start_ns + 90000000))\",\"status\":{\"code\":2,\"message\":\"card declined\"}}" |
  curl -sf -H 'Content-Type: application/json' --data-binary @- http://127.0.0.1:9800/v1/traces >/dev/null
echo "-- TraceQL { status = error }:"; curl -s -G http://127.0.0.1:9800/api/search --data-urlencode 'q={ status = error }' | head -c 400; echo
echo "-- trace $trace_id:"; curl -s "http://127.0.0.1:9800/api/v2/traces/$trace_id" | head -c 400; echo
echo "oxeye is serving on http://127.0.0.1:9800 (OTLP gRPC :4317, HTTP :4318). Ctrl-C to stop."
wait $pid
