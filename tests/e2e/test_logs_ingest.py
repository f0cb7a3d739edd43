"""Logs in through real clients: the OpenTelemetry Python SDK's logging handler (OTLP/gRPC and OTLP/HTTP),
`python-logging-loki` (Loki push JSON), and the OTLP conformance sample; then read back through the Loki API.

OTLP records are mapped the way Loki 3 maps them: identifying resource attributes become stream labels with dots
turned into underscores (`service.name` → `service_name`), the rest structured metadata; the trace id is kept as
`trace_id` metadata (lowercase hex).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

from loki_client import index_stats, label_values, loki_json, now_ns, push_ok, query_range, series, stream_lines

CONFORMANCE_LOGS = Path(__file__).resolve().parents[2] / ".." / "shared" / "conformance" / "otlp" / "logs.json"


def _wait_for_entries(oxeye, selector: str, want: int, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    stats = {}
    while time.monotonic() < deadline:
        stats = index_stats(oxeye, selector)
        if stats["entries"] >= want:
            return stats
        time.sleep(0.1)
    return stats


def _otel_logger(exporter, service: str):
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.resources import Resource

    provider = LoggerProvider(resource=Resource.create({"service.name": service, "service.namespace": "shop",
                                                         "deployment.environment": "test", "team": "payments"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = logging.getLogger(f"otel-{service}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(LoggingHandler(level=logging.INFO, logger_provider=provider))
    return logger, provider


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_otel_sdk_logging_handler(oxeye, transport):
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    if transport == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
        exporter = OTLPLogExporter(endpoint=oxeye.grpc_endpoint, insecure=True)
    else:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        exporter = OTLPLogExporter(endpoint=f"{oxeye.otlp_http_url}/v1/logs")
    service = f"checkout-{transport}"
    logger, provider = _otel_logger(exporter, service)
    tracer = TracerProvider().get_tracer("test")
    started = now_ns()
    with tracer.start_as_current_span("pay") as span:
        trace_id = format(span.get_span_context().trace_id, "032x")
        logger.error("payment failed for order %s", 42, extra={"order.id": "42"})
    logger.info("payment retried")
    provider.shutdown()

    selector = f'{{service_name="{service}"}}'
    stats = _wait_for_entries(oxeye, selector, 2)
    assert stats["entries"] == 2, stats
    streams = series(oxeye, selector)
    assert len(streams) == 1, streams
    labels = streams[0]
    assert labels["service_name"] == service
    assert labels["service_namespace"] == "shop"
    assert labels["deployment_environment"] == "test"
    assert "team" not in labels, "non-identifying resource attributes are structured metadata, not labels"

    data = query_range(oxeye, selector, started - 1_000_000_000, now_ns() + 1_000_000_000, direction="forward")
    entries = stream_lines(data)
    assert [line for _, _, line in entries] == ["payment failed for order 42", "payment retried"]
    error_stream = entries[0][0]
    # Loki's default response merges structured metadata into the stream labels.
    assert error_stream["trace_id"] == trace_id
    assert error_stream["order_id"] == "42"
    assert error_stream["severity_text"] == "ERROR"
    assert error_stream["team"] == "payments"


def test_python_logging_loki_handler(oxeye):
    import logging_loki

    handler = logging_loki.LokiHandler(
        url=f"{oxeye.url}/loki/api/v1/push", tags={"application": "billing"}, version="1"
    )
    logger = logging.getLogger("billing-e2e")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    started = now_ns()
    logger.warning("disk almost full", extra={"tags": {"volume": "data"}})
    logger.info("invoice sent")
    handler.close()

    assert sorted(label_values(oxeye, "application")) == ["billing"]
    data = query_range(oxeye, '{application="billing"}', started - 1_000_000_000, now_ns() + 1_000_000_000,
                       direction="forward")
    got = sorted((labels["severity"], labels.get("volume"), line) for labels, _, line in stream_lines(data))
    assert got == [("info", None, "invoice sent"), ("warning", "data", "disk almost full")]


def test_otlp_conformance_sample(oxeye):
    if not CONFORMANCE_LOGS.is_file():
        pytest.skip(f"{CONFORMANCE_LOGS} not present")
    document = json.loads(CONFORMANCE_LOGS.read_text())
    # Move the sample's timestamps to now, keeping their order (oxeye refuses entries older than the retention).
    records = [r for rl in document["resourceLogs"] for sl in rl["scopeLogs"] for r in sl["logRecords"]]
    base = now_ns() - 60_000_000_000
    for index, record in enumerate(records):
        record["timeUnixNano"] = str(base + index)
    response = oxeye.post("/v1/logs", json.dumps(document).encode(), "application/json")
    assert response.status == 200, response.text
    assert response.json().get("partialSuccess", {}).get("rejectedLogRecords", 0) in (0, "0"), response.text
    services = label_values(oxeye, "service_name")
    assert services, "the sample's records are stored under a service_name stream label"
    total = sum(index_stats(oxeye, f'{{service_name="{s}"}}')["entries"] for s in services)
    assert total == len(records)


def test_tenants_never_see_each_other(oxeye):
    now = now_ns()
    push_ok(oxeye, [{"stream": {"app": "a"}, "values": [[str(now), "tenant one secret"]]}], tenant="one")
    push_ok(oxeye, [{"stream": {"app": "b"}, "values": [[str(now), "tenant two line"]]}], tenant="two")
    assert label_values(oxeye, "app", tenant="one") == ["a"]
    assert label_values(oxeye, "app", tenant="two") == ["b"]
    assert label_values(oxeye, "app") == []
    assert series(oxeye, '{app=~".+"}', tenant="two") == [{"app": "b", "service_name": "b"}]
    assert index_stats(oxeye, '{app="a"}', tenant="two")["entries"] == 0
    data = query_range(oxeye, '{app=~".+"}', now - 1_000_000_000, now + 1_000_000_000, tenant="two")
    assert [line for _, _, line in stream_lines(data)] == ["tenant two line"]

    # Every other read endpoint, asked by tenant "two" for everything: only tenant two's stream shows.
    window = {"start": str(now - 60_000_000_000), "end": str(now + 1_000_000_000)}
    everything = {"query": '{app=~".+"}', **window}
    volume = loki_json(oxeye, "/loki/api/v1/index/volume", everything, tenant="two")
    assert [r["metric"] for r in volume["data"]["result"]] == [{"app": "b"}]
    volume_range = loki_json(oxeye, "/loki/api/v1/index/volume_range", {**everything, "step": "60"}, tenant="two")
    assert [r["metric"] for r in volume_range["data"]["result"]] == [{"app": "b"}]
    labels = loki_json(oxeye, "/loki/api/v1/detected_labels", everything, tenant="two")
    assert {l["label"]: l["cardinality"] for l in labels["detectedLabels"]} == {"app": 1, "service_name": 1}
    fields = loki_json(oxeye, "/loki/api/v1/detected_fields", everything, tenant="two")
    assert "fields" not in fields or all(f["label"] != "secret" for f in fields["fields"])
    count = loki_json(oxeye, "/loki/api/v1/query",
                      {"query": 'sum(count_over_time({app=~".+"}[2m]))', "time": str(now + 1_000_000_000)},
                      tenant="two")
    assert count["data"]["result"][0]["value"][1] == "1"
    assert loki_json(oxeye, "/loki/api/v1/labels", window, tenant="two")["data"] == ["app", "service_name"]
