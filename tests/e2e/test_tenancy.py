"""Tenancy: data written as one tenant (by `X-Scope-OrgID`, on every write protocol) is invisible to another
through series, labels, label values, metadata and export; malformed tenant ids are a 400 with a JSON error.
"""

from __future__ import annotations

import json

import pytest

from oxeye_server import TENANT_HEADER, now_ms, series_key
from remote_write_wire import REMOTE_WRITE_CONTENT_TYPE, REMOTE_WRITE_HEADERS, remote_write_body

EVERYTHING = '{__name__=~".+"}'


def _otlp_gauge(name: str, attribute: str, value: float, time_ms: int) -> bytes:
    return json.dumps({"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
        "scopeMetrics": [{"metrics": [{"name": name, "gauge": {"dataPoints": [{
            "asDouble": value, "timeUnixNano": str(time_ms * 1_000_000),
            "attributes": [{"key": attribute, "value": {"stringValue": "x"}}],
        }]}}]}],
    }]}).encode()


def _write_as(oxeye, tenant: str, prefix: str, label: str, timestamp: int) -> set:
    """Writes one series per protocol as `tenant`; returns the series written."""
    text = f"# HELP {prefix}_import_total Imported by {tenant}\n# TYPE {prefix}_import_total counter\n" \
           f'{prefix}_import_total{{{label}="1"}} 1 {timestamp}\n'
    assert oxeye.import_text(text, tenant=tenant).status == 204
    body = remote_write_body([({"__name__": f"{prefix}_rw", label: "2"}, [(timestamp, 2.0)])])
    response = oxeye.post("/api/v1/write", body, REMOTE_WRITE_CONTENT_TYPE, tenant=tenant, headers=REMOTE_WRITE_HEADERS)
    assert response.status == 204, response.text
    response = oxeye.post("/v1/metrics", _otlp_gauge(f"{prefix}.otlp", label, 3.0, timestamp), "application/json",
                          tenant=tenant)
    assert response.status == 200 and not response.json().get("partialSuccess"), response.text
    return {
        series_key({"__name__": f"{prefix}_import_total", label: "1"}),
        series_key({"__name__": f"{prefix}_rw", label: "2"}),
        series_key({"__name__": f"{prefix}_otlp", label: "x", "job": "svc"}),
    }


def test_tenants_are_isolated(oxeye):
    timestamp = now_ms()
    written = {
        "team-a": _write_as(oxeye, "team-a", "alpha", "a_only", timestamp),
        "team-b": _write_as(oxeye, "team-b", "beta", "b_only", timestamp),
    }
    own_label = {"team-a": "a_only", "team-b": "b_only"}
    for tenant, other in (("team-a", "team-b"), ("team-b", "team-a")):
        assert oxeye.series(EVERYTHING, tenant=tenant) == written[tenant]
        assert set(oxeye.export(EVERYTHING, tenant=tenant)) == written[tenant]
        names = {dict(s)["__name__"] for s in written[tenant]}
        assert sorted(oxeye.label_values("__name__", tenant=tenant)) == sorted(names)
        assert sorted(oxeye.labels(tenant=tenant)) == sorted({"__name__", own_label[tenant], "job"})
        assert oxeye.label_values(own_label[other], tenant=tenant) == []
        assert oxeye.series(f'{{{own_label[other]}!=""}}', tenant=tenant) == set()
        assert oxeye.export(f'{{{own_label[other]}!=""}}', tenant=tenant) == {}
        metadata = oxeye.metadata(tenant=tenant)
        prefix = "alpha" if tenant == "team-a" else "beta"
        other_prefix = "beta" if tenant == "team-a" else "alpha"
        assert metadata.get(f"{prefix}_import_total") == [
            {"type": "counter", "help": f"Imported by {tenant}", "unit": ""}
        ], metadata
        assert not any(name.startswith(other_prefix) for name in metadata), metadata
    # The default tenant (no header) saw nothing of either.
    assert oxeye.series(EVERYTHING) == set()
    assert oxeye.labels() == []
    assert oxeye.metadata() == {}
    assert oxeye.export(EVERYTHING) == {}


@pytest.mark.parametrize("bad_tenant", ["a/b", "t" * 200, "..", "a b"], ids=["slash", "200-chars", "dotdot", "space"])
def test_bad_tenant_id_is_rejected(oxeye, bad_tenant):
    headers = {TENANT_HEADER: bad_tenant}
    reads = [
        ("GET", "/api/v1/series", [("match[]", "up")]),
        ("GET", "/api/v1/labels", None),
        ("GET", "/api/v1/label/__name__/values", None),
        ("GET", "/api/v1/metadata", None),
        ("GET", "/api/v1/export", [("match[]", "up")]),
    ]
    for method, path, params in reads:
        response = oxeye.get(path, params=params, tenant=bad_tenant)
        assert response.status == 400, (path, response.status, response.text)
        payload = response.json()
        assert payload["status"] == "error" and payload["errorType"] == "bad_data", payload
        assert "X-Scope-OrgID" in payload["error"], payload

    response = oxeye.import_text(f"tenant_probe 1 {now_ms()}\n", tenant=bad_tenant)
    assert response.status == 400, response.text
    assert response.headers.get("content-type", "").startswith("application/json")
    assert "X-Scope-OrgID" in response.json()["error"]

    response = oxeye.post("/v1/metrics", _otlp_gauge("tenant.probe", "k", 1.0, now_ms()), "application/json",
                          headers=headers)
    assert response.status == 400, response.text
    assert "X-Scope-OrgID" in response.json()["message"], response.text

    import grpc
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc

    request = metrics_service_pb2.ExportMetricsServiceRequest()
    with grpc.insecure_channel(oxeye.grpc_endpoint) as channel:
        stub = metrics_service_pb2_grpc.MetricsServiceStub(channel)
        with pytest.raises(grpc.RpcError) as error:
            stub.Export(request, metadata=[("x-scope-orgid", bad_tenant)], timeout=10)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, error.value
    assert "x-scope-orgid" in error.value.details(), error.value.details()

    # Nothing was stored anywhere.
    assert oxeye.series('{__name__=~"tenant.*"}') == set()
    tenants_dir = oxeye.data_dir / "tenants"
    assert not tenants_dir.exists() or [p.name for p in tenants_dir.iterdir()] == []
