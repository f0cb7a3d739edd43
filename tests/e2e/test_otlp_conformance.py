"""The OTLP JSON example of the OpenTelemetry project (`../shared/conformance/otlp/metrics.json`), posted to
`/v1/metrics`: every data point must be stored with the series, value and timestamp that Prometheus's OTLP
translation gives, except the exponential histogram, which oxeye refuses and reports in `partialSuccess`.

The sum and the histogram are DELTA; oxeye converts delta to cumulative, and the first point of a delta series is
its own cumulative value. The file's timestamps are from 2018, hence `--retention 100y`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from oxeye_server import render_series, series_key

CONFORMANCE_DIR = Path(
    os.environ.get("OXEYE_CONFORMANCE_DIR") or Path(__file__).resolve().parents[3] / "shared" / "conformance"
)
METRICS_JSON = CONFORMANCE_DIR / "otlp" / "metrics.json"
TIMESTAMP_MS = 1544712660300  # "timeUnixNano": "1544712660300000000"


def _expected() -> dict:
    job = {"job": "my.service"}  # service.name only: no namespace, no instance, and so no target_info
    return {
        series_key({"__name__": "my_counter_total", **job, "my_counter_attr": "some value"}): 5.0,
        series_key({"__name__": "my_gauge_ratio", **job, "my_gauge_attr": "some value"}): 10.0,
        series_key({"__name__": "my_histogram_bucket", **job, "my_histogram_attr": "some value", "le": "1"}): 1.0,
        series_key({"__name__": "my_histogram_bucket", **job, "my_histogram_attr": "some value", "le": "+Inf"}): 2.0,
        series_key({"__name__": "my_histogram_sum", **job, "my_histogram_attr": "some value"}): 2.0,
        series_key({"__name__": "my_histogram_count", **job, "my_histogram_attr": "some value"}): 2.0,
    }


@pytest.mark.parametrize("path", ["/v1/metrics", "/api/v1/otlp/v1/metrics"])
def test_otlp_json_conformance_file(oxeye_factory, path):
    if not METRICS_JSON.is_file():
        pytest.fail(f"conformance file missing: {METRICS_JSON}")
    body = METRICS_JSON.read_bytes()
    document = json.loads(body)
    data_points = sum(
        len(next(v for k, v in metric.items() if k in ("sum", "gauge", "histogram", "exponentialHistogram"))["dataPoints"])
        for resource in document["resourceMetrics"]
        for scope in resource["scopeMetrics"]
        for metric in scope["metrics"]
    )
    oxeye = oxeye_factory(["--retention", "100y"])

    response = oxeye.post(path, body, "application/json", tenant="conformance")
    assert response.status == 200, f"{response.status} {response.text}"
    assert response.headers.get("content-type", "").startswith("application/json")
    partial = response.json().get("partialSuccess")
    assert partial, f"exponential histogram not reported as refused: {response.text}"
    assert int(partial["rejectedDataPoints"]) == 1, partial
    assert "exponential" in partial.get("errorMessage", "").lower(), partial

    expected = _expected()
    stored = oxeye.export('{__name__=~".+"}', tenant="conformance")
    assert set(stored) == set(expected), (
        f"stored {sorted(render_series(s) for s in stored)}\nexpected {sorted(render_series(s) for s in expected)}"
    )
    for series, value in expected.items():
        assert stored[series] == [(TIMESTAMP_MS, value)], (render_series(series), stored[series])
    # Four data points in the file: three stored, one refused.
    assert data_points == 4
    print(f"conformance {METRICS_JSON.name}: {data_points - 1}/{data_points} data points stored, 1 refused as expected")

    # The same DELTA points a minute later (start unchanged, so contiguous): cumulative values add up.
    for resource in document["resourceMetrics"]:
        for scope in resource["scopeMetrics"]:
            for metric in scope["metrics"]:
                for kind in ("sum", "gauge", "histogram", "exponentialHistogram"):
                    for point in metric.get(kind, {}).get("dataPoints", []):
                        point["timeUnixNano"] = str(int(point["timeUnixNano"]) + 60_000_000_000)
    response = oxeye.post(path, json.dumps(document).encode(), "application/json", tenant="conformance")
    assert response.status == 200, response.text
    assert int(response.json()["partialSuccess"]["rejectedDataPoints"]) == 1, response.text
    stored = oxeye.export('{__name__=~".+"}', tenant="conformance")
    assert set(stored) == set(expected)
    for series, value in expected.items():
        is_gauge = dict(series)["__name__"] == "my_gauge_ratio"
        second_value = value if is_gauge else 2 * value
        assert stored[series] == [(TIMESTAMP_MS, value), (TIMESTAMP_MS + 60_000, second_value)], (
            render_series(series), stored[series])

    self_metrics = oxeye.self_metrics()
    refused = sum(v for (n, l), v in self_metrics.items() if n == "oxeye_rejected_samples_total"
                  and dict(l).get("tenant") == "conformance" and dict(l).get("reason") == "unsupported_metric_type")
    assert refused == 2, {k: v for k, v in self_metrics.items() if k[0] == "oxeye_rejected_samples_total"}
