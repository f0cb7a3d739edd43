"""Prometheus (the real one) scrapes itself every second and remote-writes to oxeye; afterwards the series and
raw samples Prometheus stored for `{job="prometheus"}` must be what oxeye stored.

To avoid races, Prometheus is stopped with SIGTERM (which flushes its remote-write queue) and started again on the
same TSDB with neither scraping nor remote_write, so that both sides are final when compared.
"""

from __future__ import annotations

import json
import time

import http_client
from oxeye_server import same_float, series_key, render_series

JOB_SELECTOR = '{job="prometheus"}'
SCRAPES_WANTED = 6


def _write_config(path, scrape_port: int | None, remote_write_url: str | None) -> None:
    # JSON is valid YAML; Prometheus reads it as its config file.
    config: dict = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"}}
    if scrape_port is not None:
        config["scrape_configs"] = [
            {"job_name": "prometheus", "static_configs": [{"targets": [f"127.0.0.1:{scrape_port}"]}]}
        ]
    if remote_write_url is not None:
        config["remote_write"] = [{
            "url": remote_write_url,
            "queue_config": {"batch_send_deadline": "1s", "min_backoff": "50ms", "max_backoff": "1s"},
            "metadata_config": {"send": True, "send_interval": "1s"},
        }]
    path.write_text(json.dumps(config, indent=2))


def _prometheus_api(port: int, path: str, params) -> object:
    response = http_client.get(f"http://127.0.0.1:{port}{path}", params=params)
    assert response.status == 200, f"prometheus {path}: {response.status} {response.text}"
    payload = response.json()
    assert payload["status"] == "success", payload
    return payload["data"]


def test_prometheus_remote_write_matches_prometheus_storage(oxeye, prometheus_factory, tmp_path):
    tsdb_path = tmp_path / "prometheus-data"
    config_path = tmp_path / "prometheus.yml"
    test_start_ms = int(time.time() * 1000) - 60_000

    def scraping_prometheus_args(port: int) -> list[str]:
        _write_config(config_path, port, f"{oxeye.url}/api/v1/write")
        return [f"--config.file={config_path}", f"--storage.tsdb.path={tsdb_path}",
                f"--web.listen-address=127.0.0.1:{port}"]

    prometheus, scrape_port = prometheus_factory(scraping_prometheus_args)
    # Prometheus starts scraping a few seconds after start-up; wait until oxeye has SCRAPES_WANTED of them. Its
    # metadata is read early on, so that the series this request adds to Prometheus's own metrics are shipped
    # well before the end.
    deadline = time.monotonic() + 45
    received = 0
    prometheus_metadata = None
    for _ in range(450):
        up = oxeye.export('up{job="prometheus"}')
        received = sum(len(samples) for samples in up.values())
        if received >= 2 and prometheus_metadata is None:
            prometheus_metadata = _prometheus_api(scrape_port, "/api/v1/metadata", None)
        if received >= SCRAPES_WANTED or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert received >= SCRAPES_WANTED and prometheus_metadata is not None, (
        f"oxeye received {received} scrapes of `up` from Prometheus:\n{prometheus.log_tail()}")
    assert prometheus.stop() == 0, prometheus.log_tail()

    # The same TSDB, read-only in effect: no scrape_configs, no remote_write.
    query_config_path = tmp_path / "prometheus-query.yml"
    _write_config(query_config_path, None, None)
    _, query_port = prometheus_factory(
        lambda port: [f"--config.file={query_config_path}", f"--storage.tsdb.path={tsdb_path}",
                      f"--web.listen-address=127.0.0.1:{port}"],
        log_name="prometheus-query",
    )
    end_ms = int(time.time() * 1000) + 1000

    # Series: identical label sets over the same fixed range, up to the last scrape oxeye received (should the
    # shutdown have cut off the final scrape, series that first appeared in it are left out on both sides).
    last_up_ms = max(t for samples in oxeye.export('up{job="prometheus"}').values() for t, _ in samples)
    series_range = [("start", f"{test_start_ms / 1000:.3f}"), ("end", f"{last_up_ms / 1000:.3f}")]
    prometheus_series = {
        series_key(labels)
        for labels in _prometheus_api(query_port, "/api/v1/series", [("match[]", JOB_SELECTOR), *series_range])
    }
    oxeye_series = oxeye.series(JOB_SELECTOR, start=series_range[0][1], end=series_range[1][1])
    assert len(prometheus_series) > 100, f"Prometheus scraped only {len(prometheus_series)} series"
    missing = prometheus_series - oxeye_series
    extra = oxeye_series - prometheus_series
    assert not missing and not extra, (
        f"{len(missing)} series missing in oxeye, e.g. {[render_series(s) for s in list(missing)[:5]]}; "
        f"{len(extra)} unexpected, e.g. {[render_series(s) for s in list(extra)[:5]]}"
    )

    # Raw samples of every series: Prometheus's range vector against oxeye's export.
    window_seconds = (end_ms - test_start_ms) // 1000 + 1
    matrix = _prometheus_api(
        query_port, "/api/v1/query", [("query", f"{JOB_SELECTOR}[{window_seconds}s]"), ("time", f"{end_ms / 1000:.3f}")]
    )
    assert matrix["resultType"] == "matrix"
    prometheus_samples = {
        series_key(row["metric"]): [(round(float(t) * 1000), float(v)) for t, v in row["values"]]
        for row in matrix["result"]
    }
    assert prometheus_series <= set(prometheus_samples)
    oxeye_samples = oxeye.export(JOB_SELECTOR, start=test_start_ms / 1000, end=end_ms / 1000)
    assert oxeye_series <= set(oxeye_samples)

    total = present = 0
    mismatches = []
    for series, samples in prometheus_samples.items():
        stored = dict(oxeye_samples.get(series, []))
        for timestamp, value in samples:
            total += 1
            if timestamp not in stored:
                continue
            present += 1
            if not same_float(stored[timestamp], value):
                mismatches.append((render_series(series), timestamp, value, stored[timestamp]))
    assert not mismatches, f"{len(mismatches)} values differ (series, ts, prometheus, oxeye): {mismatches[:10]}"
    assert total > 0
    assert present >= 0.9 * total, f"oxeye has only {present} of Prometheus's {total} samples"

    # A handful of well-known metrics, one by one: ≥ 90% of Prometheus's samples, each with the same value.
    for name in ("up", "scrape_duration_seconds", "scrape_samples_scraped", "prometheus_tsdb_head_series",
                 "go_goroutines"):
        series = series_key({"__name__": name, "job": "prometheus", "instance": f"127.0.0.1:{scrape_port}"})
        assert series in prometheus_samples and series in oxeye_samples, render_series(series)
        prometheus_points = prometheus_samples[series]
        stored = dict(oxeye_samples[series])
        common = [(t, v) for t, v in prometheus_points if t in stored]
        assert len(common) >= 0.9 * len(prometheus_points) and len(common) >= SCRAPES_WANTED - 1, (name, common)
        assert all(stored[t] == v for t, v in common), (name, prometheus_points, oxeye_samples[series])

    # Metadata, which Prometheus's remote write sends every `send_interval`, matches its own metadata API.
    oxeye_metadata = oxeye.metadata()
    assert len(prometheus_metadata) > 50, prometheus_metadata
    differing = {
        family: (entries, oxeye_metadata.get(family))
        for family, entries in prometheus_metadata.items()
        if oxeye_metadata.get(family) != entries
    }
    assert not differing, f"{len(differing)} of {len(prometheus_metadata)} families differ: {list(differing.items())[:5]}"
