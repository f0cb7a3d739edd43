"""The OpenTelemetry Python SDK exports a counter, an observable gauge and a histogram to oxeye over OTLP/gRPC and
OTLP/HTTP; the stored series must be exactly what Prometheus 3's OTLP receiver makes of that input.

Prometheus 3 defaults (translation strategy UnderscoreEscapingWithSuffixes, no scope labels, no promoted resource
attributes), per the OpenTelemetry → Prometheus compatibility specification and prometheus/otlptranslator:
- names: characters outside [a-zA-Z0-9:] become `_`; the unit is appended (`ms` → `milliseconds`; `1` and
  annotations such as `{items}` add nothing); monotonic sums get `_total`; gauges with unit `1` get `_ratio`;
- `job` is `service.namespace/service.name`, `instance` is `service.instance.id`;
- histograms become `_bucket{le=…}` (cumulative, every explicit bound plus `+Inf`), `_sum` and `_count`;
- the other resource attributes go to `target_info{job, instance, …}` with value 1;
- attribute names are sanitised like metric names (`http.method` → `http_method`), values are stringified.
"""

from __future__ import annotations

import time

import pytest
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource

from oxeye_server import render_series, series_key

BOUNDS = [2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0]
DURATIONS_MS = [1, 3, 3, 7, 12, 30, 75, 200, 1000]
RESOURCE_ATTRIBUTES = {
    "service.name": "checkout",
    "service.namespace": "shop",
    "service.instance.id": "i-1",
    "deployment.environment": "test",
}
IDENTIFYING = {"job": "shop/checkout", "instance": "i-1"}


def _label_name(attribute: str) -> str:
    return "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in attribute)


def _le(bound: float) -> str:
    # Go's strconv.FormatFloat(bound, 'f', -1, 64), as Prometheus writes `le`.
    return repr(bound).removesuffix(".0") if bound != float("inf") else "+Inf"


def _cumulative_bucket_counts() -> list[int]:
    return [sum(1 for d in DURATIONS_MS if d <= bound) for bound in BOUNDS] + [len(DURATIONS_MS)]


def _record_and_export(exporter) -> Resource:
    """Records the instruments once and exports through `exporter` (force_flush, then shutdown)."""
    resource = Resource.create(RESOURCE_ATTRIBUTES)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000, export_timeout_millis=15_000)
    provider = MeterProvider(
        resource=resource,
        metric_readers=[reader],
        # Instruments that no view matches keep their default aggregation.
        views=[View(instrument_name="http.server.duration", aggregation=ExplicitBucketHistogramAggregation(BOUNDS))],
    )
    meter = provider.get_meter("checkout.instrumentation", "1.2.3")
    requests = meter.create_counter("requests", unit="1", description="Requests served")
    requests.add(3, {"http.method": "GET", "http.status_code": 200})
    requests.add(4, {"http.method": "GET", "http.status_code": 200})
    requests.add(2, {"http.method": "POST", "http.status_code": 201})

    def observe_queue(_options: CallbackOptions):
        yield Observation(42, {"queue.name": "orders"})

    meter.create_observable_gauge("queue.size", callbacks=[observe_queue], unit="{items}", description="Queued")
    duration = meter.create_histogram("http.server.duration", unit="ms", description="Server duration")
    for milliseconds in DURATIONS_MS:
        duration.record(milliseconds, {"http.route": "/cart"})
    try:
        assert provider.force_flush(timeout_millis=15_000), "force_flush failed"
    finally:
        provider.shutdown(timeout_millis=15_000)
    return resource


def _expected_series(resource: Resource) -> dict:
    """`{series: expected value of each of its samples}`."""
    expected = {}

    def add(name: str, labels: dict[str, str], value: float):
        expected[series_key({"__name__": name, **IDENTIFYING, **labels})] = value

    add("requests_total", {"http_method": "GET", "http_status_code": "200"}, 7)
    add("requests_total", {"http_method": "POST", "http_status_code": "201"}, 2)
    add("queue_size", {"queue_name": "orders"}, 42)
    route = {"http_route": "/cart"}
    for bound, count in zip([*BOUNDS, float("inf")], _cumulative_bucket_counts()):
        add("http_server_duration_milliseconds_bucket", {**route, "le": _le(bound)}, count)
    add("http_server_duration_milliseconds_sum", route, sum(DURATIONS_MS))
    add("http_server_duration_milliseconds_count", route, len(DURATIONS_MS))
    target_labels = {
        _label_name(key): str(value)
        for key, value in resource.attributes.items()
        if key not in ("service.name", "service.namespace", "service.instance.id")
    }
    assert target_labels["deployment_environment"] == "test"
    assert "telemetry_sdk_language" in target_labels
    add("target_info", target_labels, 1)
    return expected


def _grpc_exporter(oxeye, tenant, gzip: bool):
    import grpc
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

    compression = grpc.Compression.Gzip if gzip else grpc.Compression.NoCompression
    return OTLPMetricExporter(endpoint=oxeye.grpc_endpoint, insecure=True, headers={"x-scope-orgid": tenant},
                              compression=compression, timeout=10)


def _http_exporter(oxeye, tenant, gzip: bool):
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    compression = Compression.Gzip if gzip else Compression.NoCompression
    return OTLPMetricExporter(endpoint=f"{oxeye.otlp_http_url}/v1/metrics", headers={"X-Scope-OrgID": tenant},
                              compression=compression, timeout=10)


@pytest.mark.parametrize(
    ("transport", "tenant", "gzip"),
    [("grpc", "otel-grpc", False), ("http", "otel-http", False), ("grpc", "otel-grpc-gz", True),
     ("http", "otel-http-gz", True)],
    ids=["grpc", "http", "grpc-gzip", "http-gzip"],
)
def test_otel_sdk_export_is_translated_like_prometheus(oxeye, transport, tenant, gzip):
    make_exporter = _grpc_exporter if transport == "grpc" else _http_exporter
    started_ms = int(time.time() * 1000) - 1000
    resource = _record_and_export(make_exporter(oxeye, tenant, gzip))
    finished_ms = int(time.time() * 1000) + 1000
    expected = _expected_series(resource)

    stored = oxeye.export('{__name__=~".+"}', tenant=tenant)
    missing = set(expected) - set(stored)
    unexpected = set(stored) - set(expected)
    assert not missing and not unexpected, (
        f"missing: {sorted(render_series(s) for s in missing)}\nunexpected: {sorted(render_series(s) for s in unexpected)}"
    )
    assert oxeye.series('{__name__=~".+"}', tenant=tenant) == set(expected)
    for series, value in expected.items():
        samples = stored[series]
        assert samples, render_series(series)
        for timestamp, stored_value in samples:
            assert started_ms <= timestamp <= finished_ms, (render_series(series), timestamp)
            assert stored_value == value, (render_series(series), samples, value)

    # Metadata as Prometheus's translator builds it: family name, type, description, unit (UnitNamer).
    metadata = oxeye.metadata(tenant=tenant)
    assert metadata.get("requests_total") == [{"type": "counter", "help": "Requests served", "unit": ""}], metadata
    assert metadata.get("queue_size") == [{"type": "gauge", "help": "Queued", "unit": ""}], metadata
    assert metadata.get("http_server_duration_milliseconds") == [
        {"type": "histogram", "help": "Server duration", "unit": "milliseconds"}
    ], metadata

    # Nothing leaked into another tenant.
    assert oxeye.series('{__name__=~".+"}', tenant="default") == set()
    self_metrics = oxeye.self_metrics()
    protocol = f"otlp_{transport}"
    ingested = sum(v for (n, l), v in self_metrics.items() if n == "oxeye_samples_ingested_total"
                   and dict(l).get("tenant") == tenant and dict(l).get("protocol") == protocol)
    assert ingested >= len(expected), self_metrics
