"""Traces from real clients: the OpenTelemetry Python SDK across two services with context propagated through HTTP
headers (over OTLP gRPC and OTLP HTTP), the OTLP JSON conformance sample and Zipkin v2 JSON; read back through the
Tempo API (by id, TraceQL search, tags) and the Jaeger API; span metrics through PromQL; tenant isolation on every
trace endpoint.
"""

from __future__ import annotations

import base64
import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tempo_client import now_ns, search, send_spans, span_names, trace_v2

CONFORMANCE = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "otlp"


def _provider(service: str, exporter):
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service, "deployment.environment": "e2e"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def _exporter(oxeye, transport: str):
    if transport == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        return OTLPSpanExporter(endpoint=oxeye.grpc_endpoint, insecure=True)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    return OTLPSpanExporter(endpoint=f"{oxeye.otlp_http_url}/v1/traces")


class _Checkout:
    """A real HTTP server ("checkout") that continues the caller's trace from the `traceparent` header and fails
    with a recorded exception."""

    def __init__(self, tracer):
        from opentelemetry.propagate import extract
        from opentelemetry.trace import SpanKind, Status, StatusCode

        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                context = extract({key.lower(): value for key, value in self.headers.items()})
                with tracer.start_as_current_span("POST /pay", context=context, kind=SpanKind.SERVER) as span:
                    span.set_attribute("http.request.method", "POST")
                    span.set_attribute("payment.amount", 1250)
                    with tracer.start_as_current_span("SELECT cards", kind=SpanKind.CLIENT) as query:
                        query.set_attribute("db.system", "postgresql")
                        query.set_attribute("db.name", "payments")
                    try:
                        raise ValueError("card 4242 declined")
                    except ValueError as error:
                        span.record_exception(error)
                        span.set_status(Status(StatusCode.ERROR, "card declined"))
                    outer.trace_id = f"{span.get_span_context().trace_id:032x}"
                self.send_response(402)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.trace_id = None
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_otel_sdk_trace_across_two_services(oxeye, transport):
    from opentelemetry.propagate import inject
    from opentelemetry.trace import SpanKind

    frontend_provider = _provider("frontend", _exporter(oxeye, transport))
    checkout_provider = _provider("checkout", _exporter(oxeye, "http" if transport == "grpc" else "grpc"))
    checkout = _Checkout(checkout_provider.get_tracer("checkout"))
    tracer = frontend_provider.get_tracer("frontend")
    try:
        with tracer.start_as_current_span("GET /buy", kind=SpanKind.SERVER) as root:
            root.set_attribute("http.route", "/buy")
            with tracer.start_as_current_span("POST /pay", kind=SpanKind.CLIENT):
                headers: dict[str, str] = {}
                inject(headers)
                request = urllib.request.Request(f"http://127.0.0.1:{checkout.port}/pay", data=b"{}", headers=headers)
                opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
                try:
                    opener.open(request, timeout=10)
                except urllib.error.HTTPError as error:
                    assert error.code == 402
            trace_id = f"{root.get_span_context().trace_id:032x}"
    finally:
        checkout.close()
        frontend_provider.shutdown()
        checkout_provider.shutdown()
    assert checkout.trace_id == trace_id, "the trace context crossed the HTTP call"

    status, body = trace_v2(oxeye, trace_id)
    assert status == 200
    assert span_names(body["trace"]) == ["GET /buy", "POST /pay", "POST /pay", "SELECT cards"]
    groups = {}
    for group in body["trace"]["resourceSpans"]:
        attributes = {a["key"]: a["value"] for a in group["resource"]["attributes"]}
        groups[attributes["service.name"]["stringValue"]] = group
    assert set(groups) == {"frontend", "checkout"}
    spans = {(service, s["name"]): s for service, g in groups.items() for sc in g["scopeSpans"] for s in sc["spans"]}
    client = spans[("frontend", "POST /pay")]
    server = spans[("checkout", "POST /pay")]
    assert server["parentSpanId"] == client["spanId"], "the server span is the client span's child"
    assert server["kind"] == "SPAN_KIND_SERVER" and client["kind"] == "SPAN_KIND_CLIENT"
    assert server["status"] == {"code": "STATUS_CODE_ERROR", "message": "card declined"}
    exception = server["events"][0]
    assert exception["name"] == "exception"
    attributes = {a["key"]: a["value"] for a in exception["attributes"]}
    assert attributes["exception.type"] == {"stringValue": "ValueError"}
    assert attributes["exception.message"] == {"stringValue": "card 4242 declined"}
    assert "Traceback" in attributes["exception.stacktrace"]["stringValue"]
    amount = {a["key"]: a["value"] for a in server["attributes"]}["payment.amount"]
    assert amount == {"intValue": "1250"}
    assert base64.b64decode(server["traceId"]).hex() == trace_id

    # Findable with TraceQL: errors, structure, attributes of either scope.
    found = search(oxeye, "{ status = error }")
    assert [t["traceID"] for t in found] == [trace_id.lstrip("0")]
    assert found[0]["rootServiceName"] == "frontend" and found[0]["rootTraceName"] == "GET /buy"
    assert search(oxeye, '{ resource.service.name = "frontend" && kind = client } > { status = error }')
    assert search(oxeye, "{ .db.system = \"postgresql\" } < { name = \"POST /pay\" }")
    assert not search(oxeye, '{ resource.service.name = "nobody" }')
    # Jaeger sees the same trace, error tag and exception log included.
    jaeger = oxeye.get("/jaeger/api/traces", params={"service": "checkout", "tags": json.dumps({"error": "true"})})
    assert jaeger.status == 200, jaeger.text
    data = jaeger.json()["data"]
    assert [t["traceID"] for t in data] == [trace_id]
    failing = next(s for s in data[0]["spans"] if s["operationName"] == "POST /pay" and s["logs"])
    assert {"key": "error", "type": "bool", "value": True} in failing["tags"]


def test_conformance_sample_and_zipkin(oxeye):
    body = (CONFORMANCE / "trace.json").read_bytes()
    response = oxeye.post("/v1/traces", body, "application/json")
    assert response.status == 200, response.text
    status, trace = trace_v2(oxeye, "5b8efff798038103d269b633813fc60c")
    assert status == 200
    sample = json.loads(body)
    expected = sorted(s["name"] for rs in sample["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"])
    assert span_names(trace["trace"]) == expected

    start_us = now_ns() // 1000
    zipkin = [{"traceId": "5af7183fb1d4cf5f", "id": "6b221d5bc9e6496c", "name": "get /api", "kind": "SERVER",
               "timestamp": start_us, "duration": 2000, "localEndpoint": {"serviceName": "zipkin-svc"},
               "tags": {"http.method": "GET", "error": "boom"}}]
    response = oxeye.post("/api/v2/spans", json.dumps(zipkin).encode(), "application/json")
    assert response.status == 202, response.text
    found = search(oxeye, '{ resource.service.name = "zipkin-svc" && status = error }')
    assert found and found[0]["traceID"] == "5af7183fb1d4cf5f"


def test_span_metrics_and_service_graph_through_promql(oxeye):
    start = now_ns() - 5_000_000_000
    spans = []
    for n in range(40):
        trace = f"{n + 1:032x}"
        spans += [
            {"trace": trace, "span": f"{n + 1:08x}00000001", "parent": "", "name": "GET /", "service": "web",
             "start_ns": start, "end_ns": start + 30_000_000, "kind": 2},
            {"trace": trace, "span": f"{n + 1:08x}00000002", "parent": f"{n + 1:08x}00000001", "name": "GET /items",
             "service": "web", "start_ns": start + 1_000_000, "end_ns": start + 20_000_000, "kind": 3},
            {"trace": trace, "span": f"{n + 1:08x}00000003", "parent": f"{n + 1:08x}00000002", "name": "GET /items",
             "service": "items", "start_ns": start + 2_000_000, "end_ns": start + 18_000_000, "kind": 2,
             "error": n % 4 == 0},
        ]
    send_spans(oxeye, spans)
    oxeye.flush()
    result = oxeye.api_data("/api/v1/query", {"query": "sum(traces_spanmetrics_calls_total)"})
    assert float(result["result"][0]["value"][1]) == len(spans)
    errors = oxeye.api_data("/api/v1/query", {"query": 'sum by (service) (traces_spanmetrics_calls_total{status_code="STATUS_CODE_ERROR"})'})
    assert [(r["metric"]["service"], r["value"][1]) for r in errors["result"]] == [("items", "10")]
    latency = oxeye.api_data("/api/v1/query", {"query": 'traces_spanmetrics_latency_bucket{service="web",span_name="GET /",le="0.032"}'})
    assert latency["result"][0]["value"][1] == "40"
    graph = oxeye.api_data("/api/v1/query", {"query": "traces_service_graph_request_total"})
    edges = {(r["metric"]["client"], r["metric"]["server"]): r["value"][1] for r in graph["result"]}
    assert edges[("web", "items")] == "40"
    assert edges.get(("user", "web")) in (None, "40")  # the root half waits 10 s for its expiry
    failed = oxeye.api_data("/api/v1/query", {"query": "traces_service_graph_request_failed_total"})
    assert failed["result"][0]["value"][1] == "10"
    exemplars = oxeye.api_data("/api/v1/query_exemplars", {"query": "traces_spanmetrics_latency_bucket", "start": str(start // 10**9 - 60), "end": str(now_ns() // 10**9 + 60)})
    trace_ids = {e["labels"]["traceID"] for series in exemplars for e in series["exemplars"]}
    assert trace_ids and all(len(t) == 32 for t in trace_ids)


def test_tenants_never_see_each_other_traces(oxeye):
    start = now_ns() - 1_000_000_000
    mine = {"trace": "ab" * 16, "span": "cd" * 8, "parent": "", "name": "secret-op", "service": "secret-svc",
            "start_ns": start, "end_ns": start + 1_000_000, "attrs": {"secretkey": "secretvalue"}}
    send_spans(oxeye, [mine], tenant="one")
    theirs = dict(mine, trace="ef" * 16, name="public-op", service="public-svc", attrs={"publickey": "publicvalue"})
    send_spans(oxeye, [theirs], tenant="two")
    oxeye.flush(tenant="one")
    window = {"start": str(start // 10**9 - 60), "end": str(start // 10**9 + 60)}
    requests = [
        (f"/api/traces/{'ab' * 16}", None),
        (f"/api/v2/traces/{'ab' * 16}", None),
        ("/api/search", {"q": "{ }"}),
        ("/api/search", {"q": "{ }", **window}),
        ("/api/search/tags", None),
        ("/api/v2/search/tags", None),
        ("/api/search/tag/secretkey/values", None),
        ("/api/v2/search/tag/resource.service.name/values", None),
        ("/api/v2/search/tag/name/values", None),
        ("/api/metrics/query_range", {"q": "{ } | count_over_time() by (resource.service.name)", **window}),
        ("/api/metrics/query", {"q": "{ } | count_over_time() by (name)", **window}),
        ("/jaeger/api/services", None),
        ("/jaeger/api/services/secret-svc/operations", None),
        ("/jaeger/api/operations", {"service": "secret-svc"}),
        ("/jaeger/api/traces", {"service": "secret-svc"}),
        (f"/jaeger/api/traces/{'ab' * 16}", None),
    ]
    for path, params in requests:
        as_one = oxeye.get(path, params=params, tenant="one")
        as_two = oxeye.get(path, params=params, tenant="two")
        assert as_one.status == 200, (path, as_one.status, as_one.text)
        assert "secret" in as_one.text, f"tenant one does not see its own data at {path}: {as_one.text}"
        assert "secret" not in as_two.text, f"tenant two sees tenant one's data at {path}: {as_two.text}"
