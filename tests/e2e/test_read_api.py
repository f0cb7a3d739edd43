"""The Prometheus-shaped read API on known data: `match[]` (several are a union), `start`/`end` (Unix seconds or
RFC 3339), `limit` (truncates with Prometheus's warning), GET and form-encoded POST, and the error envelope.
"""

from __future__ import annotations

import urllib.parse
from datetime import datetime, timezone

from oxeye_server import now_ms, series_key

HOUR_MS = 3600 * 1000


def _seed(oxeye) -> int:
    now = now_ms()
    text = (
        "# HELP read_a Series a.\n# TYPE read_a gauge\n"
        f'read_a{{x="old"}} 1 {now - HOUR_MS}\n'
        f'read_a{{x="new"}} 2 {now}\n'
        "# HELP read_b_total Series b.\n# TYPE read_b_total counter\n"
        f'read_b_total{{y="1"}} 3 {now}\n'
        f"read_c 4 {now}\n"
    )
    assert oxeye.import_text(text).status == 204
    return now


def _post_form(oxeye, path: str, params: list[tuple[str, str]]):
    body = urllib.parse.urlencode(params).encode()
    return oxeye.post(path, body, "application/x-www-form-urlencoded")


def test_read_api_parameters(oxeye):
    now = _seed(oxeye)
    recent = f"{(now - 60_000) / 1000:.3f}"
    a_new = series_key({"__name__": "read_a", "x": "new"})
    a_old = series_key({"__name__": "read_a", "x": "old"})
    b = series_key({"__name__": "read_b_total", "y": "1"})
    c = series_key({"__name__": "read_c"})

    assert oxeye.series("read_a", "read_c") == {a_new, a_old, c}
    assert oxeye.series("read_a", start=recent) == {a_new}
    assert oxeye.series("read_a", end=f"{(now - HOUR_MS) / 1000:.3f}") == {a_old}
    rfc3339 = datetime.fromtimestamp((now - 60_000) / 1000, tz=timezone.utc).isoformat().replace("+00:00", "Z")
    assert oxeye.series("read_a", start=rfc3339) == {a_new}

    response = _post_form(oxeye, "/api/v1/series", [("match[]", '{__name__=~"read_a|read_b_total"}'),
                                                     ("start", recent)])
    assert response.status == 200, response.text
    assert {series_key(s) for s in response.json()["data"]} == {a_new, b}

    assert oxeye.labels(matchers=("read_b_total",)) == ["__name__", "y"]
    response = _post_form(oxeye, "/api/v1/labels", [("match[]", "read_a")])
    assert response.status == 200 and response.json()["data"] == ["__name__", "x"], response.text
    assert oxeye.label_values("__name__") == ["read_a", "read_b_total", "read_c"]
    assert oxeye.api_data("/api/v1/label/x/values", [("match[]", "read_a"), ("start", recent)]) == ["new"]

    for path, params in (
        ("/api/v1/series", [("match[]", '{__name__=~"read_.*"}'), ("limit", "2")]),
        ("/api/v1/label/__name__/values", [("limit", "1")]),
    ):
        response = oxeye.get(path, params=params)
        payload = response.json()
        assert response.status == 200 and payload["status"] == "success", payload
        assert len(payload["data"]) == int(params[-1][1]), payload
        assert payload.get("warnings") == ["results truncated due to limit"], payload

    metadata = oxeye.metadata()
    assert metadata == {
        "read_a": [{"type": "gauge", "help": "Series a.", "unit": ""}],
        "read_b_total": [{"type": "counter", "help": "Series b.", "unit": ""}],
    }
    assert len(oxeye.api_data("/api/v1/metadata", [("limit", "1")])) == 1
    assert oxeye.api_data("/api/v1/metadata", [("metric", "read_a")]) == {"read_a": metadata["read_a"]}

    assert oxeye.export("read_a", start=recent) == {a_new: [(now, 2.0)]}
    assert oxeye.export("read_a") == {a_new: [(now, 2.0)], a_old: [(now - HOUR_MS, 1.0)]}

    for params in ([], [("match[]", "read_a{")], [("match[]", "read_a"), ("start", "yesterday")]):
        response = oxeye.get("/api/v1/series", params=params)
        assert response.status == 400, (params, response.text)
        payload = response.json()
        assert payload["status"] == "error" and payload["errorType"] == "bad_data" and payload["error"], payload
