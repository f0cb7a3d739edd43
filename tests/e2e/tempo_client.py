"""Helpers for the trace tests: OTLP/protobuf exports built from plain tuples, and Tempo/Jaeger API reads.

A span is described as a dict: `trace` (32 hex), `span` (16 hex), `parent` (16 hex or ""), `name`, `service`,
`start_ns`, `end_ns`, optional `error` (bool), `kind` (OTLP number) and `attrs` (dict of str → str/int).
"""

from __future__ import annotations

import random
import time

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2


def now_ns() -> int:
    return time.time_ns()


def random_trace_id(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


def random_span_id(rng: random.Random) -> str:
    return f"{rng.getrandbits(64) | 1:016x}"


def _value(value) -> common_pb2.AnyValue:
    if isinstance(value, bool):
        return common_pb2.AnyValue(bool_value=value)
    if isinstance(value, int):
        return common_pb2.AnyValue(int_value=value)
    if isinstance(value, float):
        return common_pb2.AnyValue(double_value=value)
    return common_pb2.AnyValue(string_value=str(value))


def export_request(spans: list[dict]) -> bytes:
    """One ExportTraceServiceRequest with a ResourceSpans per service."""
    by_service: dict[str, list[dict]] = {}
    for span in spans:
        by_service.setdefault(span["service"], []).append(span)
    request = trace_service_pb2.ExportTraceServiceRequest()
    for service, group in by_service.items():
        resource_spans = request.resource_spans.add()
        resource_spans.resource.CopyFrom(resource_pb2.Resource(
            attributes=[common_pb2.KeyValue(key="service.name", value=_value(service))]))
        scope = resource_spans.scope_spans.add()
        scope.scope.name = "oxeye-e2e"
        for span in group:
            proto = scope.spans.add()
            proto.trace_id = bytes.fromhex(span["trace"])
            proto.span_id = bytes.fromhex(span["span"])
            if span.get("parent"):
                proto.parent_span_id = bytes.fromhex(span["parent"])
            proto.name = span["name"]
            proto.kind = span.get("kind", trace_pb2.Span.SPAN_KIND_SERVER)
            proto.start_time_unix_nano = span["start_ns"]
            proto.end_time_unix_nano = span["end_ns"]
            for key, value in span.get("attrs", {}).items():
                proto.attributes.append(common_pb2.KeyValue(key=key, value=_value(value)))
            if span.get("error"):
                proto.status.code = trace_pb2.Status.STATUS_CODE_ERROR
                proto.status.message = "failed"
    return request.SerializeToString()


def send_spans(oxeye, spans: list[dict], tenant: str | None = None):
    response = oxeye.post("/v1/traces", export_request(spans), "application/x-protobuf", tenant=tenant)
    assert response.status == 200, f"export: {response.status} {response.text}"
    decoded = trace_service_pb2.ExportTraceServiceResponse()
    decoded.ParseFromString(response.body)
    return decoded


def trace_v2(oxeye, trace_id: str, tenant: str | None = None):
    """(status code, JSON body or None) of `GET /api/v2/traces/<id>`."""
    response = oxeye.get(f"/api/v2/traces/{trace_id}", tenant=tenant)
    return response.status, (response.json() if response.status == 200 else None)


def span_names(trace_json: dict, field: str = "resourceSpans") -> list[str]:
    return sorted(span["name"] for group in trace_json.get(field, [])
                  for scope in group.get("scopeSpans", []) for span in scope.get("spans", []))


def span_count(oxeye, trace_id: str, tenant: str | None = None) -> int:
    status, body = trace_v2(oxeye, trace_id, tenant)
    if status == 404:
        return 0
    assert status == 200, status
    return len(span_names(body["trace"]))


def search(oxeye, query: str, tenant: str | None = None, **params) -> list[dict]:
    response = oxeye.get("/api/search", params={"q": query, **{k: str(v) for k, v in params.items()}}, tenant=tenant)
    assert response.status == 200, f"search {query}: {response.status} {response.text}"
    return response.json()["traces"]


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)
