"""Bad input is refused with a status and message a client can act on, good data beside it is kept, and every
refusal is counted in `oxeye_rejected_samples_total{tenant, reason}`. Also `oxeye --version`.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from oxeye_server import metric_value, now_ms, series_key
from remote_write_wire import (
    REMOTE_WRITE_CONTENT_TYPE,
    REMOTE_WRITE_HEADERS,
    decode_rpc_status_message,
    remote_write_body,
)

LIMITED_CONFIG = {"tenants": {"limited": {"max_labels_per_series": 5, "max_active_series": 3}}}


def _remote_write(oxeye, body: bytes, tenant: str | None = None):
    return oxeye.post("/api/v1/write", body, REMOTE_WRITE_CONTENT_TYPE, tenant=tenant, headers=REMOTE_WRITE_HEADERS)


def _rejected(oxeye, tenant: str, reason: str) -> float:
    return metric_value(oxeye.self_metrics(), "oxeye_rejected_samples_total", tenant=tenant, reason=reason)


@pytest.fixture
def limited_oxeye(oxeye_factory):
    return oxeye_factory(config=LIMITED_CONFIG)


def test_remote_write_round_trip_of_the_hand_built_encoder(oxeye):
    """Guards the other tests: a valid body from `remote_write_wire` is accepted and stored as sent."""
    timestamp = now_ms()
    body = remote_write_body([({"__name__": "rw_ok", "a": "1"}, [(timestamp, 1.5), (timestamp + 1000, -2.0)])])
    response = _remote_write(oxeye, body)
    assert response.status == 204, response.text
    assert oxeye.export("rw_ok") == {
        series_key({"__name__": "rw_ok", "a": "1"}): [(timestamp, 1.5), (timestamp + 1000, -2.0)]
    }


def test_corrupt_snappy_is_400_with_message(oxeye):
    valid = remote_write_body([({"__name__": "never_stored"}, [(now_ms(), 1.0)])])
    for corrupt in (b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01garbage", valid[:-3], b"\x10" + b"\x00" * 3):
        response = _remote_write(oxeye, corrupt)
        assert response.status == 400, (corrupt, response.status, response.text)
        assert "snappy" in response.text.lower() or "decode" in response.text.lower(), response.text
        assert response.text.strip(), "empty error message"
    assert oxeye.series("never_stored") == set()


def test_otlp_protobuf_garbage_is_400(oxeye):
    for path in ("/v1/metrics", "/api/v1/otlp/v1/metrics"):
        response = oxeye.post(path, b"\x0a\xff\xff\xff\xff\x0f not protobuf", "application/x-protobuf")
        assert response.status == 400, (path, response.status, response.text)
        assert response.headers.get("content-type") == "application/x-protobuf"
        assert decode_rpc_status_message(response.body), response.body
    response = oxeye.post("/v1/metrics", b"{not json", "application/json")
    assert response.status == 400
    assert response.json()["message"]
    # The OTLP/HTTP port answers the same.
    from http_client import post
    response = post(f"{oxeye.otlp_http_url}/v1/metrics", b"\xff\xff", headers={"Content-Type": "application/x-protobuf"})
    assert response.status == 400, response.status


def test_text_import_with_one_bad_line(oxeye):
    timestamp = now_ms()
    text = (
        f'good_line{{n="1"}} 1 {timestamp}\n'
        f'good_line{{n="2"}} 2 {timestamp}\n'
        f'bad_line{{n="3" 3 {timestamp}\n'
        f'good_line{{n="4"}} 4 {timestamp}\n'
    )
    rejected_before = _rejected(oxeye, "default", "invalid_text_line")
    response = oxeye.import_text(text)
    assert response.status == 400, response.text
    assert re.search(r"\bline 3\b", response.text), response.text
    assert oxeye.export('{__name__=~"good_line|bad_line"}') == {
        series_key({"__name__": "good_line", "n": n}): [(timestamp, float(n))] for n in ("1", "2", "4")
    }
    assert _rejected(oxeye, "default", "invalid_text_line") == rejected_before + 1


def test_too_many_labels_is_400_naming_the_series(limited_oxeye):
    timestamp = now_ms()
    too_many = {"__name__": "wide_series", **{f"l{i}": str(i) for i in range(6)}}  # 7 labels
    fine = {"__name__": "narrow_series", "a": "1", "b": "2", "c": "3"}  # 4 labels
    body = remote_write_body([(too_many, [(timestamp, 1.0), (timestamp + 1, 2.0)]), (fine, [(timestamp, 3.0)])])
    response = _remote_write(limited_oxeye, body, tenant="limited")
    assert response.status == 400, response.text
    assert "wide_series" in response.text and "narrow_series" not in response.text, response.text
    assert limited_oxeye.export('{__name__=~"wide_series|narrow_series"}', tenant="limited") == {
        series_key(fine): [(timestamp, 3.0)]
    }
    assert _rejected(limited_oxeye, "limited", "too_many_labels") == 2
    # The limit is per tenant: the default tenant takes the same series.
    response = _remote_write(limited_oxeye, body)
    assert response.status == 204, response.text
    assert _rejected(limited_oxeye, "default", "too_many_labels") == 0


def test_series_limit_exceeded_is_429(limited_oxeye):
    timestamp = now_ms()
    series = [({"__name__": "limited_series", "i": str(i)}, [(timestamp, float(i))]) for i in range(5)]
    response = _remote_write(limited_oxeye, remote_write_body(series[:3]), tenant="limited")
    assert response.status == 204, response.text
    response = _remote_write(limited_oxeye, remote_write_body(series), tenant="limited")
    assert response.status == 429, response.text
    assert "limited_series" in response.text, response.text
    stored = limited_oxeye.export("limited_series", tenant="limited")
    assert set(stored) == {series_key(labels) for labels, _ in series[:3]}
    assert _rejected(limited_oxeye, "limited", "series_limit") == 2
    # Existing series still take new samples.
    response = _remote_write(limited_oxeye, remote_write_body([(series[0][0], [(timestamp + 1000, 9.0)])]),
                             tenant="limited")
    assert response.status == 204, response.text
    # The text import is limited the same way.
    response = limited_oxeye.import_text(f'limited_series{{i="9"}} 1 {timestamp}\n', tenant="limited")
    assert response.status == 429, response.text
    assert _rejected(limited_oxeye, "limited", "series_limit") == 3


def test_version_flag(oxeye_bin):
    result = subprocess.run([str(oxeye_bin), "--version"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    match = re.fullmatch(r"oxeye (\d+\.\d+\.\d+\S*)\n?", result.stdout)
    assert match, result.stdout
    repository = Path(__file__).resolve().parents[2]
    crate_manifest = (repository / "crates" / "oxeye" / "Cargo.toml").read_text()
    if re.search(r"^version\.workspace\s*=\s*true", crate_manifest, re.M):
        workspace_manifest = (repository / "Cargo.toml").read_text()
        package_table = workspace_manifest.split("[workspace.package]", 1)[1].split("\n[", 1)[0]
        declared = re.search(r'^version\s*=\s*"([^"]+)"', package_table, re.M)
    else:
        declared = re.search(r'^version\s*=\s*"([^"]+)"', crate_manifest, re.M)
    assert declared, "no version in the manifests"
    assert match.group(1) == declared.group(1)
