#!/usr/bin/env python3
"""Side-by-side PromQL query latency benchmark: oxeye against Prometheus and VictoriaMetrics.

Generates the foundation workload of the ingest benchmark (bench/metrics-workload), then for each system in turn:
starts it on 127.0.0.1 with an empty data directory, replays the identical remote_write bodies to it, lets it
reach the state it would be in after running for that long (blocks cut, merges done), and runs a fixed list of
dashboard queries against its Prometheus query API: one warm-up, then N timed runs each. Prints a Markdown table of
median latencies, the ratios oxeye/peer and their geometric means, and whether each system's answer equals
Prometheus's. See bench/README.md.

Python 3.11 standard library only. The process, workload and measurement machinery is bench/metrics/run.py's,
imported from there. Only processes started here are signalled, by PID; every wait is bounded.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _load_ingest_module():
    """bench/metrics/run.py as a module (its file name would clash with this one's on `import run`)."""
    spec = importlib.util.spec_from_file_location("oxeye_bench_metrics_run", REPO / "bench" / "metrics" / "run.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


ingest = _load_ingest_module()
log = ingest.log

# Prometheus first: its answers are the reference the others are compared with.
SYSTEMS = ("prometheus", "oxeye", "victoria-metrics")
RELATIVE_TOLERANCE = 1e-9
SETTLE_TIMEOUT_S = 300
# Extra flags, beyond the ingest benchmark's command lines, so that every timed run does the work:
# VictoriaMetrics caches range query results (`-search.disableCache`) and by default hides the last 30 s
# (`-search.latencyOffset`).
EXTRA_FLAGS = {
    "victoria-metrics": ["-search.disableCache", "-search.latencyOffset=0s"],
}


# --- the queries -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchQuery:
    name: str
    expr: str
    # "instant" (at the data's end), "1h" (the last hour, 15 s step: 241 points), "all" (the whole data range from
    # its sixth minute on, at `step_s`).
    window: str
    step_s: int = 15


QUERIES = [
    # Service dashboards: request rates, errors, latency.
    BenchQuery("req-rate-by-job", "sum by (job) (rate(http_requests_total[5m]))", "1h"),
    BenchQuery("req-rate-by-job-code", "sum by (job, code) (rate(http_requests_total[5m]))", "all"),
    BenchQuery("error-ratio",
               'sum by (job) (rate(http_requests_total{code=~"5.."}[5m]))'
               " / sum by (job) (rate(http_requests_total[5m]))", "1h"),
    BenchQuery("p99-latency-by-job",
               "histogram_quantile(0.99, sum by (job, le) (rate(http_request_duration_seconds_bucket[5m])))", "1h"),
    BenchQuery("p95-latency-by-handler",
               "histogram_quantile(0.95, sum by (handler, le)"
               ' (rate(http_request_duration_seconds_bucket{job="payments"}[5m])))', "all"),
    BenchQuery("p90-db-latency",
               "histogram_quantile(0.9, sum by (operation, le) (rate(db_query_duration_seconds_bucket[5m])))",
               "instant"),
    BenchQuery("mean-latency",
               "sum by (job) (rate(http_request_duration_seconds_sum[5m]))"
               " / sum by (job) (rate(http_request_duration_seconds_count[5m]))", "all"),
    BenchQuery("topk-handlers", "topk(5, sum by (handler) (rate(http_requests_total[5m])))", "1h"),
    BenchQuery("req-increase-1h", "sum by (job, method) (increase(http_requests_total[1h]))", "instant"),
    BenchQuery("stddev-rates", "stddev by (job) (rate(http_requests_total[5m]))", "instant"),
    # Host dashboards (node_exporter).
    BenchQuery("cpu-busy-by-host", '1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m]))', "1h"),
    BenchQuery("cpu-by-cluster-mode", 'sum by (cluster, mode) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))',
               "all"),
    BenchQuery("topk-cpu-hosts", 'topk(10, sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m])))',
               "instant"),
    BenchQuery("memory-used-ratio", "1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes", "1h"),
    BenchQuery("fs-used-max",
               'max by (instance) (1 - node_filesystem_avail_bytes{fstype!~"tmpfs|vfat"}'
               ' / node_filesystem_size_bytes{fstype!~"tmpfs|vfat"})', "instant"),
    BenchQuery("fs-predict-4h", 'predict_linear(node_filesystem_avail_bytes{mountpoint="/"}[1h], 4 * 3600)',
               "instant"),
    BenchQuery("net-rx-by-host",
               'sum by (instance) (rate(node_network_receive_bytes_total{device!~"lo|docker.*"}[5m]))', "all"),
    BenchQuery("disk-regex-all-hosts",
               'sum(rate(node_disk_read_bytes_total{instance=~"ip-10-2[01]-.*:9100", device=~"nvme.*"}[5m]))',
               "all"),
    BenchQuery("disk-io-irate", "sum by (device) (irate(node_disk_io_time_seconds_total[1m]))", "all"),
    BenchQuery("load1-raw", "node_load1", "all"),
    BenchQuery("load1-avg-5m", "avg_over_time(node_load1[5m])", "all", step_s=30),
    BenchQuery("memory-families-regex", 'count by (__name__) ({__name__=~"node_memory_.*_bytes"})', "instant"),
    # Joins.
    BenchQuery("join-uname-cpu",
               'sum by (instance) (rate(node_cpu_seconds_total{mode="user"}[5m]))'
               " * on(instance) group_left(nodename, release) node_uname_info", "1h"),
    BenchQuery("join-build-info",
               "sum by (job, instance) (rate(http_requests_total[5m]))"
               " * on(job, instance) group_left(version, revision) app_build_info", "instant"),
    BenchQuery("join-app-cpu-per-core",
               'label_replace(sum by (instance) (rate(process_cpu_seconds_total{job!="node"}[5m])),'
               ' "host", "$1", "instance", "(.*):.*")'
               ' / on(host) group_left label_replace(count by (instance) (node_cpu_seconds_total{mode="idle"}),'
               ' "host", "$1", "instance", "(.*):.*")', "1h"),
    BenchQuery("up-by-job", "count by (job) (up == 1)", "instant"),
    # Subqueries and long windows.
    BenchQuery("subquery-max-rate", "max_over_time(sum by (job) (rate(http_requests_total[5m]))[1h:1m])",
               "instant"),
    BenchQuery("subquery-avg-cpu",
               'avg_over_time(sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))[30m:1m])',
               "1h", step_s=60),
    BenchQuery("quantile-over-time-1h", "quantile_over_time(0.99, node_load1[1h])", "all", step_s=60),
    BenchQuery("deploys-3h", "sum by (job) (changes(process_start_time_seconds[3h]))", "instant"),
    # Application internals.
    BenchQuery("queue-depth", "sum by (queue) (app_queue_depth)", "all"),
    BenchQuery("jobs-processed", "sum by (queue, status) (rate(app_jobs_processed_total[5m]))", "1h"),
    BenchQuery("cache-hit-ratio",
               "sum by (job) (rate(app_cache_hits_total[5m]))"
               " / (sum by (job) (rate(app_cache_hits_total[5m])) + sum by (job) (rate(app_cache_misses_total[5m])))",
               "1h"),
]


@dataclass
class TimeGrid:
    """Evaluation times: every one is `start_ms + k * interval_ms + residue_ms` (see `choose_residue`)."""

    start_ms: int
    end_ms: int
    interval_ms: int
    residue_ms: int

    @property
    def last_ms(self) -> int:
        """The last evaluation time before the data's end."""
        steps = (self.end_ms - 1 - self.residue_ms - self.start_ms) // self.interval_ms
        return self.start_ms + steps * self.interval_ms + self.residue_ms

    def params(self, query: BenchQuery) -> tuple[str, dict[str, str]]:
        end = self.last_ms
        if query.window == "instant":
            return "/api/v1/query", {"query": query.expr, "time": _seconds(end)}
        if query.window == "1h":
            start = end - 3600 * 1000
        else:
            start = self.start_ms + 20 * self.interval_ms + self.residue_ms
        return "/api/v1/query_range", {"query": query.expr, "start": _seconds(start), "end": _seconds(end),
                                       "step": str(query.step_s)}


def _seconds(ms: int) -> str:
    return f"{ms // 1000}.{ms % 1000:03d}"


def choose_residue(sample_timestamps_ms: set[int], interval_ms: int) -> tuple[int, bool]:
    """An offset inside the scrape interval that no sample has, and whether any sample sits on the interval grid.

    Prometheus 2.x's range selectors and lookback are closed on the left (`[t-r, t]`), 3.x's left-open
    (`(t-r, t]`): a sample exactly at `t - r` is counted by one and not the other. Every range, offset and step
    of the queries is a multiple of the scrape interval, so evaluation times at an offset no sample has keep
    such samples away from every window's edge. Subqueries evaluate their inner query at multiples of their
    step since the epoch, which is offset 0: if a sample has offset 0, their answers may legitimately differ.
    """
    residues = {timestamp % interval_ms for timestamp in sample_timestamps_ms}
    middle = interval_ms // 2
    for distance in range(interval_ms):
        for candidate in (middle + distance, middle - distance):
            if 0 < candidate < interval_ms and candidate not in residues:
                return candidate, 0 in residues
    raise RuntimeError("every offset inside the scrape interval holds a sample")


# --- HTTP --------------------------------------------------------------------------------------------------------

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def query_once(base_url: str, path: str, params: dict[str, str], timeout_s: float) -> tuple[float, int, bytes]:
    """Seconds from sending the request to having read the whole answer, the HTTP status, and the body."""
    url = f"{base_url}{path}?{urllib.parse.urlencode(params)}"
    started = time.perf_counter()
    try:
        with _OPENER.open(urllib.request.Request(url), timeout=timeout_s) as response:
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        body = error.read()
        status = error.code
    return time.perf_counter() - started, status, body


def metric_value(base_url: str, name: str) -> float | None:
    """Sum of the samples of `name` on the server's own /metrics, or None if it has none."""
    try:
        _, text = ingest.http_request(base_url + "/metrics", timeout=10, limit=None)
    except OSError:
        return None
    total = None
    for line in text.splitlines():
        if line.split("{", 1)[0].split(" ", 1)[0] == name:
            total = (total or 0.0) + float(line.rsplit(" ", 1)[1])
    return total


# --- comparison (the rules of tests/e2e/test_promql_differential.py) ---------------------------------------------


def _same_value(expected: float, actual: float) -> bool:
    if math.isnan(expected) or math.isnan(actual):
        return math.isnan(expected) and math.isnan(actual)
    return expected == actual or abs(expected - actual) <= RELATIVE_TOLERANCE * max(abs(expected), abs(actual))


def _series_key(metric: dict[str, str]) -> str:
    labels = dict(metric)
    name = labels.pop("__name__", "")
    return name + "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def compare_results(expected: dict, actual: dict) -> list[str]:
    """Differences between two `data` objects of the query API; `expected` is Prometheus's. Same resultType,
    same label sets, same timestamps, values within a relative 1e-9 (NaN equals NaN)."""
    if expected.get("resultType") != actual.get("resultType"):
        return [f"resultType {expected.get('resultType')} != {actual.get('resultType')}"]
    kind = expected["resultType"]
    if kind in ("scalar", "string"):
        (t1, v1), (t2, v2) = expected["result"], actual["result"]
        same = round(float(t1) * 1000) == round(float(t2) * 1000) and (
            v1 == v2 if kind == "string" else _same_value(float(v1), float(v2)))
        return [] if same else [f"{kind} {t1} {v1} != {t2} {v2}"]

    def keyed(result) -> dict[str, list[tuple[int, float]]]:
        rows = {}
        for row in result:
            pairs = [row["value"]] if kind == "vector" else row["values"]
            rows[_series_key(row["metric"])] = [(round(float(t) * 1000), float(v)) for t, v in pairs]
        return rows

    want, got = keyed(expected["result"]), keyed(actual["result"])
    problems = []
    if len(got) != len(actual["result"]):
        problems.append("duplicate series")
    missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
    if missing:
        problems.append(f"{len(missing)} of {len(want)} series missing, e.g. {missing[:2]}")
    if extra:
        problems.append(f"{len(extra)} unexpected series, e.g. {extra[:2]}")
    differing = 0
    for key in sorted(set(want) & set(got)):
        want_points, got_points = want[key], got[key]
        if [t for t, _ in want_points] != [t for t, _ in got_points]:
            differing += 1
            if differing <= 2:
                problems.append(f"{key}: timestamps differ ({len(want_points)} vs {len(got_points)} points)")
            continue
        for (t, v1), (_, v2) in zip(want_points, got_points):
            if not _same_value(v1, v2):
                differing += 1
                if differing <= 2:
                    problems.append(f"{key} @ {t / 1000:.3f}: {v1!r} != {v2!r}")
                break
    if differing > 2:
        problems.append(f"... {differing} series differ in all")
    return problems


# --- one system --------------------------------------------------------------------------------------------------


@dataclass
class QueryTiming:
    runs_s: list[float] = field(default_factory=list)
    error: str = ""
    series: int = 0
    points: int = 0
    bytes: int = 0

    @property
    def median_ms(self) -> float | None:
        return statistics.median(self.runs_s) * 1000 if self.runs_s and not self.error else None


@dataclass
class SystemRun:
    system: str
    ok: bool = False
    error: str = ""
    load_seconds: float = 0.0
    settle_notes: str = ""
    timings: dict[str, QueryTiming] = field(default_factory=dict)
    answers: dict[str, dict] = field(default_factory=dict)  # warm-up answers' `data`, by query name


def settle(system, server, manifest: dict) -> str:
    """Brings a freshly loaded system to its steady state: what it would hold had it ingested the data in real
    time. Returns a note saying what was done."""
    duration_ms = manifest["end_ms"] - manifest["start_ms"]
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    notes = []
    # Prometheus cuts the oldest 2 h of its head into a block once the head spans more than 3 h (checked once a
    # minute); oxeye once it spans more than 2 h 30 m (its 30 s maintenance pass). Wait for that block.
    block_gauge = {"prometheus": ("prometheus_tsdb_blocks_loaded", 3 * 3600_000),
                   "oxeye": ("oxeye_blocks", 2 * 3600_000 + 30 * 60_000)}.get(system.name)
    if block_gauge and duration_ms > block_gauge[1]:
        name = block_gauge[0]
        while time.monotonic() < deadline:
            blocks = metric_value(server.base_url, name)
            if blocks:
                notes.append(f"{name} = {blocks:g}")
                break
            time.sleep(1)
        else:
            notes.append(f"no block cut within {SETTLE_TIMEOUT_S} s ({name})")
    if system.flush is not None and system.name == "victoria-metrics":
        method, path = system.flush
        status, _ = ingest.http_request(server.base_url + path, method=method, timeout=ingest.FLUSH_TIMEOUT_S)
        notes.append(f"{method} {path} -> {status}")
    if system.compact is not None:
        method, path = system.compact
        status, _ = ingest.http_request(server.base_url + path, method=method, timeout=ingest.FLUSH_TIMEOUT_S)
        notes.append(f"{method} {path} -> {status}")
    waited = server.quiesce(max_seconds=max(10.0, deadline - time.monotonic()))
    notes.append(f"idle after {waited:.0f} s")
    return "; ".join(notes)


def load(system, workload_bin: Path, workload: Path, manifest: dict, server, concurrency: int) -> float:
    started = time.monotonic()
    exit_code, stderr_tail = ingest.run_forwarding_stderr(
        [str(workload_bin), "replay", "--workload", str(workload), "--url", server.base_url + system.write_path,
         "--concurrency", str(concurrency)],
        timeout_s=max(1800, manifest["samples"] / 20_000),
    )
    if exit_code != 0:
        raise RuntimeError(f"replay to {system.name} failed (exit {exit_code}):\n{stderr_tail}\n"
                           f"server log:\n{server.log_tail()}")
    return time.monotonic() - started


def run_queries(system_name: str, base_url: str, grid: TimeGrid, runs: int, timeout_s: float,
                result: SystemRun) -> None:
    for query in QUERIES:
        path, params = grid.params(query)
        timing = QueryTiming()
        result.timings[query.name] = timing
        try:
            elapsed, status, body = query_once(base_url, path, params, timeout_s)  # warm-up, kept for comparison
            payload = json.loads(body) if body[:1] == b"{" else {"status": "error", "error": body[:300].decode()}
            if status != 200 or payload.get("status") != "success":
                timing.error = f"HTTP {status}: {payload.get('errorType', '')} {payload.get('error', '')}"[:300]
                log(f"{system_name}: {query.name}: {timing.error}")
                continue
            data = payload["data"]
            result.answers[query.name] = data
            rows = data["result"] if data["resultType"] in ("vector", "matrix") else [data["result"]]
            timing.series = len(rows) if data["resultType"] in ("vector", "matrix") else 0
            timing.points = sum(len(row.get("values", [0])) for row in rows) if data["resultType"] == "matrix" \
                else len(rows)
            timing.bytes = len(body)
            for _ in range(runs):
                elapsed, status, _ = query_once(base_url, path, params, timeout_s)
                if status != 200:
                    timing.error = f"HTTP {status} in a timed run"
                    break
                timing.runs_s.append(elapsed)
        except (OSError, ValueError) as error:
            timing.error = f"{type(error).__name__}: {error}"[:300]
            log(f"{system_name}: {query.name}: {timing.error}")
            continue
        log(f"{system_name}: {query.name}: median {timing.median_ms or 0:.1f} ms"
            f" ({timing.series} series, {timing.points} points)")


def sample_timestamps(base_url: str, manifest: dict, timeout_s: float) -> set[int]:
    """Every scrape timestamp in the data: the raw samples of `up` (one per target and scrape)."""
    range_s = (manifest["end_ms"] - manifest["start_ms"]) // 1000 + 60
    params = {"query": f"up[{range_s}s]", "time": _seconds(manifest["end_ms"] + 1000)}
    _, status, body = query_once(base_url, "/api/v1/query", params, timeout_s)
    payload = json.loads(body)
    if status != 200 or payload.get("status") != "success" or payload["data"]["resultType"] != "matrix":
        raise RuntimeError(f"reading the scrape timestamps failed: HTTP {status} {body[:300]!r}")
    return {round(float(t) * 1000) for row in payload["data"]["result"] for t, _ in row["values"]}


def run_system(system, workload_bin: Path, workload: Path, manifest: dict, workdir: Path, args,
               grid_holder: list) -> SystemRun:
    result = SystemRun(system=system.name)
    server = ingest.Server(system, workdir)
    try:
        log(f"{system.name}: starting {system.binary} on {server.base_url}")
        server.start()
        server.wait_ready()
        log(f"{system.name}: replaying {manifest['samples']:,} samples")
        result.load_seconds = load(system, workload_bin, workload, manifest, server, args.concurrency)
        result.settle_notes = settle(system, server, manifest)
        log(f"{system.name}: loaded in {result.load_seconds:.0f} s; {result.settle_notes}")
        if not grid_holder:
            timestamps = sample_timestamps(server.base_url, manifest, args.timeout)
            residue, on_grid = choose_residue(timestamps, manifest["interval_ms"])
            if on_grid:
                log("warning: some samples lie on the scrape interval grid; subquery answers may differ between"
                    " Prometheus 2.x and 3.x semantics")
            grid_holder.append(TimeGrid(manifest["start_ms"], manifest["end_ms"], manifest["interval_ms"], residue))
            log(f"evaluation times at +{residue} ms in the interval ({len(timestamps):,} scrape timestamps seen)")
        run_queries(system.name, server.base_url, grid_holder[0], args.runs, args.timeout, result)
        result.ok = True
    except (RuntimeError, OSError, ValueError) as error:
        result.error = str(error)
        log(f"{system.name}: FAILED: {error}")
    finally:
        server.stop()
    return result


# --- report ------------------------------------------------------------------------------------------------------


def geometric_mean(values: list[float]) -> float | None:
    values = [value for value in values if value and value > 0]
    return math.exp(sum(math.log(value) for value in values) / len(values)) if values else None


def build_report(results: list[SystemRun], grid: TimeGrid | None, manifest: dict, args) -> dict:
    by_system = {run.system: run for run in results}
    reference = by_system.get("prometheus")
    rows = []
    for query in QUERIES:
        row = {"name": query.name, "expr": query.expr, "window": query.window,
               "params": grid.params(query)[1] if grid else None, "systems": {}}
        for run in results:
            timing = run.timings.get(query.name, QueryTiming(error=run.error or "not run"))
            entry = {"median_ms": timing.median_ms, "runs_ms": [s * 1000 for s in timing.runs_s],
                     "error": timing.error, "series": timing.series, "points": timing.points,
                     "response_bytes": timing.bytes, "equals_prometheus": None, "differences": []}
            if reference is not None and run.system != "prometheus":
                want, got = reference.answers.get(query.name), run.answers.get(query.name)
                if want is not None and got is not None:
                    entry["differences"] = compare_results(want, got)
                    entry["equals_prometheus"] = not entry["differences"]
            row["systems"][run.system] = entry
        for peer in ("prometheus", "victoria-metrics"):
            ours, theirs = row["systems"].get("oxeye", {}), row["systems"].get(peer, {})
            row[f"oxeye/{peer}"] = (ours["median_ms"] / theirs["median_ms"]
                                    if ours.get("median_ms") and theirs.get("median_ms") else None)
        rows.append(row)
    summary = {}
    for run in results:
        summary[f"geomean_ms/{run.system}"] = geometric_mean(
            [row["systems"][run.system]["median_ms"] for row in rows
             if all(entry["median_ms"] for entry in row["systems"].values())])
    for peer in ("prometheus", "victoria-metrics"):
        summary[f"geomean oxeye/{peer}"] = geometric_mean([row[f"oxeye/{peer}"] for row in rows
                                                          if row[f"oxeye/{peer}"]])
    return {
        "manifest": {key: value for key, value in manifest.items() if key != "files"},
        "runs_per_query": args.runs,
        "evaluation_residue_ms": grid.residue_ms if grid else None,
        "systems": [{"system": run.system, "ok": run.ok, "error": run.error, "load_seconds": run.load_seconds,
                     "settle": run.settle_notes} for run in results],
        "queries": rows,
        "summary": summary,
    }


def _cell(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def print_report(report: dict) -> None:
    systems = [entry["system"] for entry in report["systems"]]
    peers = [peer for peer in ("prometheus", "victoria-metrics") if peer in systems and "oxeye" in systems]
    header = ["#", "query", "window", *[f"{name} ms" for name in systems], *[f"oxeye/{peer}" for peer in peers],
              *[f"{name} = prom" for name in systems if name != "prometheus" and "prometheus" in systems]]
    print()
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---:" if index not in (1, 2) else "---" for index in range(len(header))) + "|")
    for number, row in enumerate(report["queries"], 1):
        cells = [str(number), f"`{row['name']}`", row["window"]]
        for name in systems:
            entry = row["systems"][name]
            cells.append("error" if entry["error"] else _cell(entry["median_ms"]))
        cells += [_cell(row[f"oxeye/{peer}"], 2) for peer in peers]
        for name in systems:
            if name == "prometheus" or "prometheus" not in systems:
                continue
            equal = row["systems"][name]["equals_prometheus"]
            cells.append("-" if equal is None else ("yes" if equal else "**no**"))
        print("| " + " | ".join(cells) + " |")
    summary = report["summary"]
    geo = ["", "**geometric mean**", ""]
    geo += [_cell(summary.get(f"geomean_ms/{name}")) for name in systems]
    geo += [_cell(summary.get(f"geomean oxeye/{peer}"), 2) for peer in peers]
    geo += [""] * (len(header) - len(geo))
    print("| " + " | ".join(geo) + " |")
    print()
    print(f"Median of {report['runs_per_query']} timed runs after one warm-up, in ms (request sent to answer read)."
          " Ratios below 1 mean oxeye is faster. Geometric means of latencies cover the queries every system"
          " answered; those of ratios every query both answered.")
    print()
    for row in report["queries"]:
        for name, entry in row["systems"].items():
            if entry["error"]:
                print(f"- {row['name']} on {name}: {entry['error']}")
            elif entry["differences"]:
                print(f"- {row['name']} on {name} differs from Prometheus: " + "; ".join(entry["differences"][:3]))


# --- main --------------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", default=",".join(SYSTEMS),
                        help=f"comma-separated subset of {', '.join(SYSTEMS)} (default: all)")
    parser.add_argument("--hosts", type=int, default=100,
                        help="fleet size, ~400 series per host (default 100: ~40k series; the ingest benchmark's"
                        " 260 takes about three times as long)")
    parser.add_argument("--duration", type=ingest.parse_duration, default=ingest.parse_duration("3h15m"),
                        help="time range of the workload (default 3h15m: Prometheus and oxeye each cut a 2h block)")
    parser.add_argument("--interval", default="15s", help="scrape interval (default 15s)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=7, help="timed runs per query and system (default 7)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds allowed per query request")
    parser.add_argument("--concurrency", type=int, default=4, help="replay requests in flight (default 4)")
    parser.add_argument("--queries", help="comma-separated subset of query names")
    parser.add_argument("--out", type=Path, help="write the results as JSON to this file")
    parser.add_argument("--workdir", type=Path, help="where workload and data dirs go (default: a new temp dir)")
    parser.add_argument("--workload", type=Path, help="reuse a workload generated earlier (its manifest.json dir)")
    parser.add_argument("--keep", action="store_true", help="keep the workload and data directories")
    parser.add_argument("--no-align", action="store_true",
                        help="end the data at now instead of starting it on a 2h boundary")
    parser.add_argument("--no-build", action="store_true", help="do not run cargo build for the workload tool")
    parser.add_argument("--oxeye-bin", help="default: $CARGO_TARGET_DIR/release/oxeye")
    parser.add_argument("--prometheus-bin", help="default: prometheus on PATH")
    parser.add_argument("--victoria-metrics-bin", help="default: victoria-metrics on PATH")
    args = parser.parse_args()
    args.no_vm_force_merge = False

    global QUERIES
    if args.queries:
        wanted_queries = {name.strip() for name in args.queries.split(",") if name.strip()}
        unknown = wanted_queries - {query.name for query in QUERIES}
        if unknown:
            parser.error(f"unknown queries {sorted(unknown)}")
        QUERIES = [query for query in QUERIES if query.name in wanted_queries]
    wanted = [name.strip() for name in args.systems.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in SYSTEMS]
    if unknown or not wanted:
        parser.error(f"unknown system(s) {unknown}; choose from {', '.join(SYSTEMS)}")
    wanted.sort(key=SYSTEMS.index)
    available = ingest.systems_under_test(args)
    for name, flags in EXTRA_FLAGS.items():
        original = available[name]
        available[name] = _with_extra_flags(original, flags)
    missing = [name for name in wanted if not available[name].binary.is_file()]
    for name in missing:
        log(f"SKIPPING {name}: {available[name].binary} not found")
    to_run = [available[name] for name in wanted if name not in missing]
    if not to_run:
        return 1

    workload_bin = ingest.build_workload_tool(args.no_build)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="oxeye-bench-query-"))
    workdir.mkdir(parents=True, exist_ok=True)
    log(f"working directory {workdir}")
    results: list[SystemRun] = []
    grid_holder: list[TimeGrid] = []
    try:
        if args.workload:
            workload = args.workload
        else:
            workload = workdir / "workload"
            end_time = str(int(time.time())) if args.no_align else str(ingest.aligned_end_time(args.duration))
            log(f"generating {args.hosts} hosts x {args.duration} s into {workload}")
            subprocess.run(
                [str(workload_bin), "generate", "--hosts", str(args.hosts), "--duration", f"{args.duration}s",
                 "--interval", args.interval, "--seed", str(args.seed), "--end-time", end_time,
                 "--out", str(workload), "--overwrite"],
                check=True, timeout=3600,
            )
        manifest = json.loads((workload / "manifest.json").read_text())
        for system in to_run:
            system_dir = workdir / system.name
            if system_dir.exists():
                shutil.rmtree(system_dir)
            system_dir.mkdir()
            results.append(run_system(system, workload_bin, workload, manifest, system_dir, args, grid_holder))
            if not args.keep:
                shutil.rmtree(system_dir / "data", ignore_errors=True)
        report = build_report(results, grid_holder[0] if grid_holder else None, manifest, args)
        print(f"\nworkload: {manifest['series']:,} series ({manifest['hosts']} hosts), {manifest['samples']:,} samples"
              f" over {(manifest['end_ms'] - manifest['start_ms']) / 3600_000:.2f} h at"
              f" {manifest['interval_ms'] / 1000:g} s")
        for entry in report["systems"]:
            status = "ok" if entry["ok"] else f"FAILED: {entry['error'].splitlines()[0] if entry['error'] else ''}"
            print(f"  {entry['system']}: loaded in {entry['load_seconds']:.0f} s; {entry['settle']}; {status}")
        print_report(report)
        if args.out:
            args.out.write_text(json.dumps(report, indent=2))
            log(f"results written to {args.out}")
    finally:
        if args.keep:
            log(f"kept {workdir}")
        elif args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
        elif not args.workload:
            shutil.rmtree(workdir / "workload", ignore_errors=True)
    failed = [run.system for run in results if not run.ok]
    return 1 if failed or missing else 0


def _with_extra_flags(system, flags: list[str]):
    """`system` whose command line ends with `flags`."""

    @dataclass
    class WithFlags(type(system)):
        extra_flags: tuple[str, ...] = ()

        def command(self, data_dir: Path, port: int, workdir: Path) -> list[str]:
            return [*super().command(data_dir, port, workdir), *self.extra_flags]

    fields = {item.name: getattr(system, item.name) for item in dataclasses.fields(system)}
    return WithFlags(**fields, extra_flags=tuple(flags))


if __name__ == "__main__":
    sys.exit(main())
