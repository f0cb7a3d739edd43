"""`oxeye serve --config file.yaml` with every setting in the file (no flags): the addresses, data dir, JSON logs,
limits and per-tenant overrides are honoured; an unknown key stops start-up with a message naming it.
"""

from __future__ import annotations

import json
import subprocess

import pytest

import http_client
from managed_process import ManagedProcess, free_port
from oxeye_server import metric_value, now_ms, parse_exposition
from remote_write_wire import REMOTE_WRITE_CONTENT_TYPE, REMOTE_WRITE_HEADERS, remote_write_body


@pytest.fixture
def process(tmp_path, request) -> ManagedProcess:
    managed = ManagedProcess("oxeye", tmp_path / "oxeye.log")
    request.addfinalizer(managed.stop)
    return managed


def test_everything_from_the_yaml_file(oxeye_bin, tmp_path, process):
    port, grpc_port, otlp_http_port = free_port(), free_port(), free_port()
    data_dir = tmp_path / "from-config"
    config_path = tmp_path / "oxeye.yaml"
    config_path.write_text(
        f"""# every key of the file
data_dir: {data_dir}
listen: 127.0.0.1:{port}
otlp_grpc_listen: 127.0.0.1:{grpc_port}
otlp_http_listen: 127.0.0.1:{otlp_http_port}
retention: 1d
log_format: json
log_level: info
wal_fsync: always
maintenance_interval: 1s
limits:
  max_labels_per_series: 4
  max_label_name_length: 64
  max_label_value_length: 16
  max_sample_age: 2h
  max_future: 1m
  out_of_order_window: 1m
  max_exemplars_per_series: 5
  max_active_series: 100
  ingestion_rate_samples_per_second: 0
tenants:
  roomy:
    max_labels_per_series: 10
"""
    )
    process.spawn([str(oxeye_bin), "serve", "--config", str(config_path)], env={"PATH": "/usr/bin:/bin"})
    base = f"http://127.0.0.1:{port}"
    process.wait_until_ready(f"{base}/ready")
    assert http_client.get(f"http://127.0.0.1:{otlp_http_port}/ready").status == 200

    now = now_ms()

    def write(labels: dict, timestamp: int, tenant: str | None = None):
        headers = dict(REMOTE_WRITE_HEADERS, **{"Content-Type": REMOTE_WRITE_CONTENT_TYPE})
        if tenant:
            headers["X-Scope-OrgID"] = tenant
        return http_client.post(f"{base}/api/v1/write", remote_write_body([(labels, [(timestamp, 1.0)])]),
                                headers=headers)

    five_labels = {"__name__": "cfg", "a": "1", "b": "2", "c": "3", "d": "4"}
    assert write(five_labels, now).status == 400  # limits.max_labels_per_series: 4
    assert write(five_labels, now, tenant="roomy").status == 204  # tenants.roomy overrides it
    assert write({"__name__": "cfg_value", "v": "x" * 17}, now).status == 400  # max_label_value_length
    assert write({"__name__": "cfg_old"}, now - 3 * 3600 * 1000).status == 400  # max_sample_age: 2h
    assert write({"__name__": "cfg_future"}, now + 5 * 60 * 1000).status == 400  # max_future: 1m
    assert write({"__name__": "cfg_ok"}, now).status == 204

    self_metrics = parse_exposition(http_client.get(f"{base}/metrics").text)
    for reason in ("too_many_labels", "label_value_too_long", "sample_too_old", "sample_too_new"):
        assert metric_value(self_metrics, "oxeye_rejected_samples_total", tenant="default", reason=reason) == 1, reason
    # wal_fsync: always syncs before acknowledging.
    assert metric_value(self_metrics, "oxeye_wal_fsyncs_total", tenant="default") >= 1
    assert (data_dir / "tenants" / "default").is_dir()

    assert process.stop() == 0
    log_lines = [line for line in process.log_path.read_text().splitlines() if line and not line.startswith("=====")]
    assert log_lines, "no log output"
    for line in log_lines:
        record = json.loads(line)  # log_format: json — every line is one JSON object
        assert isinstance(record, dict) and record, line


def test_unknown_config_key_is_an_error(oxeye_bin, tmp_path):
    config_path = tmp_path / "oxeye.yaml"
    config_path.write_text(f"data_dir: {tmp_path / 'data'}\nlimits:\n  max_series_per_tenant: 5\n")
    result = subprocess.run(
        [str(oxeye_bin), "serve", "--config", str(config_path), "--listen", f"127.0.0.1:{free_port()}",
         "--otlp-grpc-listen", f"127.0.0.1:{free_port()}", "--otlp-http-listen", f"127.0.0.1:{free_port()}"],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode != 0
    assert "max_series_per_tenant" in result.stderr + result.stdout, result.stderr
