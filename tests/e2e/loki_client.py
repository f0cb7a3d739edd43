"""Helpers for the Loki-shaped API of an `OxeyeServer`: push, query, metadata."""

from __future__ import annotations

import json
import time

from oxeye_server import OxeyeServer


def now_ns() -> int:
    return time.time_ns()


def push(oxeye: OxeyeServer, streams: list[dict], tenant: str | None = None):
    """POST /loki/api/v1/push with `{"streams": streams}` as JSON; returns the response."""
    body = json.dumps({"streams": streams}).encode()
    return oxeye.post("/loki/api/v1/push", body, "application/json", tenant=tenant)


def push_ok(oxeye: OxeyeServer, streams: list[dict], tenant: str | None = None) -> None:
    response = push(oxeye, streams, tenant)
    assert response.status == 204, f"push: {response.status} {response.text}"


def loki_json(oxeye: OxeyeServer, path: str, params=None, tenant: str | None = None):
    response = oxeye.get(path, params=params, tenant=tenant)
    assert response.status == 200, f"GET {path} {params}: {response.status} {response.text}"
    return response.json()


def query_range(oxeye: OxeyeServer, query: str, start_ns: int, end_ns: int, tenant: str | None = None, **extra):
    """`/loki/api/v1/query_range`; returns `data` after checking `status`."""
    params = {"query": query, "start": str(start_ns), "end": str(end_ns), **{k: str(v) for k, v in extra.items()}}
    payload = loki_json(oxeye, "/loki/api/v1/query_range", params, tenant)
    assert payload["status"] == "success", payload
    return payload["data"]


def stream_lines(data) -> list[tuple[dict, int, str]]:
    """(stream labels, timestamp ns, line) of every entry of a `streams` result, in response order."""
    assert data["resultType"] == "streams", data
    return [(stream["stream"], int(ts), line) for stream in data["result"] for ts, line, *_ in stream["values"]]


def index_stats(oxeye: OxeyeServer, selector: str, tenant: str | None = None, start_ns=None, end_ns=None) -> dict:
    params = {"query": selector}
    if start_ns is not None:
        params["start"] = str(start_ns)
    if end_ns is not None:
        params["end"] = str(end_ns)
    return loki_json(oxeye, "/loki/api/v1/index/stats", params, tenant)


def series(oxeye: OxeyeServer, selector: str, tenant: str | None = None) -> list[dict]:
    payload = loki_json(oxeye, "/loki/api/v1/series", [("match[]", selector)], tenant)
    assert payload["status"] == "success", payload
    return payload["data"]


def label_values(oxeye: OxeyeServer, name: str, tenant: str | None = None) -> list[str]:
    return loki_json(oxeye, f"/loki/api/v1/label/{name}/values", None, tenant).get("data", [])


def all_entries(oxeye: OxeyeServer, query: str, start_ns: int, end_ns: int, tenant: str | None = None,
                page: int = 5000, max_pages: int = 1000) -> list[tuple[dict, int, str]]:
    """Every entry of a log query in `[start_ns, end_ns)`, oldest first, read page by page (forward, `limit=page`,
    the next page starting after the last timestamp seen). Entries sharing the last timestamp of a full page are
    read again and kept once."""
    entries: list[tuple[dict, int, str]] = []
    seen: set[tuple[str, int, str]] = set()
    start = start_ns
    for _ in range(max_pages):
        data = query_range(oxeye, query, start, end_ns, tenant, limit=page, direction="forward")
        batch = sorted(stream_lines(data), key=lambda entry: entry[1])
        for labels, ts, line in batch:
            key = (json.dumps(labels, sort_keys=True), ts, line)
            if key not in seen:
                seen.add(key)
                entries.append((labels, ts, line))
        if len(batch) < page:
            return entries
        start = batch[-1][1] if batch[-1][1] > start else start + 1
    raise AssertionError(f"more than {max_pages} pages of {page} entries")
