"""`/loki/api/v1/tail` over a real WebSocket client (`websocket-client`): the tail first sends recent history, then
every newly pushed entry its query matches (pipeline applied), and nothing of other tenants or streams."""

from __future__ import annotations

import json
import urllib.parse

import websocket

from loki_client import now_ns, push_ok


def _receive(ws) -> dict:
    return json.loads(ws.recv())


def test_tail_sends_history_then_matching_new_entries(oxeye):
    base = now_ns() - 5_000_000_000
    push_ok(oxeye, [{"stream": {"app": "web"}, "values": [[str(base), "GET /old 500"], [str(base + 1), "GET /ok 200"]]}])
    query = urllib.parse.quote('{app="web"} |= "500"')
    ws = websocket.create_connection(f"ws://127.0.0.1:{oxeye.port}/loki/api/v1/tail?query={query}", timeout=10)
    try:
        history = _receive(ws)
        assert [v[1] for s in history["streams"] for v in s["values"]] == ["GET /old 500"]
        assert history["streams"][0]["stream"]["app"] == "web"

        now = now_ns()
        push_ok(oxeye, [{"stream": {"app": "web"}, "values": [[str(now), "GET /new 500"], [str(now + 1), "GET /fine 200"]]}])
        push_ok(oxeye, [{"stream": {"app": "web"}, "values": [[str(now + 2), "GET /other-tenant 500"]]}], tenant="t2")
        push_ok(oxeye, [{"stream": {"app": "db"}, "values": [[str(now + 3), "db 500"]]}])
        push_ok(oxeye, [{"stream": {"app": "web"}, "values": [[str(now + 4), "GET /last 500"]]}])
        received = []
        while len(received) < 2:
            message = _receive(ws)
            received += [(int(v[0]), v[1]) for s in message["streams"] for v in s["values"]]
        assert received == [(now, "GET /new 500"), (now + 4, "GET /last 500")]
    finally:
        ws.close()


def test_tail_refuses_metric_queries(oxeye):
    query = urllib.parse.quote('rate({app="web"}[1m])')
    response = oxeye.get(f"/loki/api/v1/tail?query={query}")
    # Without an upgrade the request is refused before the query is looked at; with one, the query is refused.
    assert response.status in (400, 426), response.text
    try:
        websocket.create_connection(f"ws://127.0.0.1:{oxeye.port}/loki/api/v1/tail?query={query}", timeout=10)
    except websocket.WebSocketBadStatusException as error:
        assert error.status_code == 400
    else:
        raise AssertionError("a metric query was accepted for tailing")
