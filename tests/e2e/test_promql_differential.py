"""Differential PromQL test: the same data in oxeye and in Debian's Prometheus 2.42, the same dashboard-style
queries against both (`/api/v1/query` and `/api/v1/query_range`), and the answers compared result for result.

Data. A deterministic, seeded data set (`build_dataset`): eight application targets in two jobs with request
counters, a classic histogram and a summary, node gauges, `up` and an `*_info` metric, ~200 series sampled every
15 s over two hours that end a minute before "now". It contains what dashboards meet in practice: counter resets
(a restart between two scrapes, another with a minute of failed scrapes), a target that goes down for 20 minutes
(with the stale markers Prometheus writes when a scrape fails), an info metric whose `version` changes, series
that stop without a stale marker and come back, a batch series that ends and a new one that starts, NaN quantiles
and negative gauges. The same remote_write 1.0 request
bodies go to both systems (`/api/v1/write`; Prometheus runs with `--web.enable-remote-write-receiver` and
scrapes nothing). Bodies cover ten minutes each and are sent in time order, so Prometheus's head (which refuses
samples more than an hour older than its newest) takes everything.

Comparison. For every query: the same `resultType`; the same set of series (label sets, including `__name__`);
for each series the same timestamps and values equal within a relative tolerance of 1e-9 (NaN equals NaN;
values are parsed as floats from Prometheus's strings). `sort`/`sort_desc` results are also compared in order.
Queries marked `error` must be refused by both, with the same HTTP status and `errorType`. Warnings and infos
are not compared. Every mismatch is printed with both answers, then the test fails; so does a run in which
more than a tenth of Prometheus's answers are empty (data that did not arrive would otherwise pass).

Prometheus 2.42 against oxeye's Prometheus 3 semantics: the intended differences, and how this test keeps clear
of them — by the shape of the data and the choice of evaluation times, and in one query (difference 8) by leaving
out the series concerned; no answer is compared loosely and no mismatch is ignored:

1. Range selectors, subquery ranges and the lookback window are closed on the left in 2.x (`[t-r, t]`) and
   left-open in 3.x (`(t-r, t]`). Every range, offset and step here is a multiple of 15 s. Samples lie at 1.3 s,
   3.7 s, ... past the 15 s grid, never at 0 s or 7.5 s; every evaluation time (instant times, range query
   starts, `@` times) lies 7.5 s past it. So no sample sits exactly on a window's left edge `t - r`, and neither
   does a subquery's inner evaluation time (a multiple of its step since the Unix epoch, 0 s past the grid).
2. `holt_winters` is `double_exponential_smoothing` in 3.x (behind `promql-experimental-functions`): not queried.
3. 3.x normalises `le`/`quantile` label values of classic histograms and summaries at *scrape* time (`le="1"` →
   `le="1.0"`). Data here arrives by remote write, which neither version rewrites, so both hold `le="1"`.
4. In 3.x `.` in a regular expression also matches `\\n`. No label value here contains a newline.
5. Functions that exist only in 3.x (`limitk`, `limit_ratio`, `sort_by_label`, `mad_over_time`, `histogram_*`
   of native histograms, `info`, ...) and 2.42's unsupported `histogram_fraction` are not queried.
6. 3.x sums with Kahan compensation (`sum`, `avg`, `*_over_time`, `deriv`/`predict_linear`) where 2.42 adds
   plainly; results differ in the last bits only, well inside the 1e-9 tolerance for this data (no query sums
   values that cancel to almost zero).
7. 3.x attaches info annotations (e.g. "metric might not be a counter") that 2.42 does not: not compared.
8. `rate`/`increase` extrapolation towards the start of a series that begins inside the range (after a restart
   or an outage): 2.42 caps the extrapolation at the counter's zero point *before* deciding whether the first
   sample is too far from the range's start, 3.x (prometheus/prometheus#13725, 2024) after, extrapolating by
   half a scrape interval instead where 2.42 extrapolates up to 1.1 intervals. The answers differ when the
   first sample's value is between half and 1.1 times the counter's mean increase per scrape. As a freshly
   started process does, the restarted targets here report every counter as 0 in their first scrape; the zero
   point is then that first sample in both versions. A subquery reads such a counter only at its own steps, whose
   first point after the restart is not 0, so the subquery `rate(...[5m:1m])` leaves the restarted target out.
"""

from __future__ import annotations

import json
import math
import random
import struct
import time
from dataclasses import dataclass

import http_client
from remote_write_wire import REMOTE_WRITE_CONTENT_TYPE, REMOTE_WRITE_HEADERS, remote_write_body

# --- the data set ------------------------------------------------------------------------------------------------

SEED = 20261122
STEP_S = 15
DATA_MINUTES = 120
STALE_NAN = struct.unpack("<d", struct.pack("<Q", 0x7FF0_0000_0000_0002))[0]
RELATIVE_TOLERANCE = 1e-9

HOSTS = [f"host-{n}" for n in range(4)]
JOB_PORTS = {"api": 8080, "web": 8081}
# Each target is scraped at its own offset past the 15 s grid; none is 0 (see the module doc, difference 1).
SCRAPE_OFFSETS_MS = {
    ("api", 0): 1300, ("api", 1): 3700, ("api", 2): 6100, ("api", 3): 8900,
    ("web", 0): 12400, ("web", 1): 2200, ("web", 2): 4600, ("web", 3): 10800,
    ("node", 0): 5300, ("node", 1): 7700, ("node", 2): 9100, ("node", 3): 13900,
    ("batch", 0): 11100,
}
BUCKETS = ["0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf"]
VERSIONS = {0: "1.4.2", 1: "1.4.2", 2: "1.4.1", 3: "1.5.0"}

# Events, in minutes after the data's start.
RESTART = ("api", 2, 50, 51)          # api host-2 restarts: scrapes fail in [50, 51), counters reset after
QUICK_RESTART = ("web", 1, 35)        # web host-1 restarts between two scrapes: counters reset, no gap
OUTAGE = ("web", 3, 80, 100)          # web host-3 is down in [80, 100), counters reset after
DEPLOY = ("api", 1, 70, "1.5.0")      # api host-1's app_info version changes at 70
WORKER_GAP = (60, 75)                 # worker w3's series has no samples (and no stale marker) in [60, 75)
NIGHTLY_END, HOURLY_START = 40, 45    # batch task "nightly" ends (stale marker), task "hourly" starts
NAN_QUANTILE = (20, 30)               # api host-0's 0.99 quantile is NaN (no observations) in [20, 30)


class SeriesBook:
    """Samples per series (label sets as sorted tuples), appended in time order."""

    def __init__(self):
        self.samples: dict[tuple, list[tuple[int, float]]] = {}

    def add(self, labels: dict[str, str], timestamp_ms: int, value: float) -> None:
        self.samples.setdefault(tuple(sorted(labels.items())), []).append((timestamp_ms, value))

    def series(self) -> list[tuple[dict[str, str], list[tuple[int, float]]]]:
        return [(dict(key), samples) for key, samples in self.samples.items()]


def _down(job: str, host: int, minute: float) -> bool:
    for event_job, event_host, first, last in (RESTART, OUTAGE):
        if job == event_job and host == event_host and first <= minute < last:
            return True
    return False


def _restarted_at(job: str, host: int, minute: float) -> bool:
    """True for the first scrape after the target came back: its counters start again from 0 and read 0
    (module doc, difference 8)."""
    for event_job, event_host, _first, last in (RESTART, OUTAGE):
        if job == event_job and host == event_host and last <= minute < last + STEP_S / 60:
            return True
    return False


def build_dataset(start_s: int) -> list[tuple[dict[str, str], list[tuple[int, float]]]]:
    """The data set, deterministic for a given start (a multiple of 60 s). See the module doc."""
    rng = random.Random(SEED)
    book = SeriesBook()
    steps = DATA_MINUTES * 60 // STEP_S

    # Per-target state of the application targets: counters, histogram, summary.
    requests: dict[tuple, float] = {}
    buckets: dict[tuple, list[float]] = {}
    latency_sum: dict[tuple, float] = {}
    rpc_sum: dict[tuple, float] = {}
    rpc_count: dict[tuple, float] = {}
    was_down: dict[tuple, bool] = {}
    last_labels: dict[tuple, list[dict[str, str]]] = {}
    info_version = {(job, host): VERSIONS[host] for job in JOB_PORTS for host in VERSIONS}
    memory = {host: 4e9 + rng.randrange(0, 2_000_000) * 4096 for host in range(len(HOSTS))}
    load = {host: 0.5 + host * 0.6 for host in range(len(HOSTS))}
    queue = {(host, name): rng.randrange(0, 20) for host in range(len(HOSTS)) for name in ("email", "billing")}
    for job in JOB_PORTS:
        for host in range(len(HOSTS)):
            target = (job, host)
            for method in ("GET", "POST"):
                for status in ("200", "404", "500"):
                    requests[(job, host, method, status)] = float(rng.randrange(1_000, 100_000))
            buckets[target] = [0.0] * len(BUCKETS)
            base = rng.randrange(1_000, 50_000)
            for index in range(len(BUCKETS)):
                base += rng.randrange(0, 5_000)
                buckets[target][index] = float(base)
            latency_sum[target] = base * 0.21
            rpc_sum[target] = rng.uniform(100, 1000)
            rpc_count[target] = float(rng.randrange(1000, 5000))

    for step in range(steps):
        minute = step * STEP_S / 60
        for job, port in JOB_PORTS.items():
            for host, host_name in enumerate(HOSTS):
                target = (job, host)
                instance = f"{host_name}:{port}"
                timestamp = (start_s + step * STEP_S) * 1000 + SCRAPE_OFFSETS_MS[target]
                base_labels = {"job": job, "instance": instance}
                if _down(job, host, minute):
                    book.add({"__name__": "up", **base_labels}, timestamp, 0.0)
                    if not was_down.get(target):
                        # The first failed scrape marks every series of the target stale, as Prometheus does.
                        for labels in last_labels.get(target, []):
                            book.add(labels, timestamp, STALE_NAN)
                    was_down[target] = True
                    continue
                fresh = _restarted_at(job, host, minute)
                if fresh or (job, host, minute) == QUICK_RESTART:
                    for key in requests:
                        if key[:2] == target:
                            requests[key] = 0.0
                    buckets[target] = [0.0] * len(BUCKETS)
                    latency_sum[target] = 0.0
                    rpc_sum[target] = rpc_count[target] = 0.0
                was_down[target] = False
                written: list[dict[str, str]] = []

                def add(labels: dict[str, str], value: float) -> None:
                    book.add(labels, timestamp, value)
                    written.append(labels)

                book.add({"__name__": "up", **base_labels}, timestamp, 1.0)
                traffic = 1.0 + 0.5 * math.sin(step / 40 + host) + (0.3 if job == "web" else 0.0)
                for method in ("GET", "POST"):
                    for status, scale in (("200", 400), ("404", 25), ("500", 6)):
                        key = (job, host, method, status)
                        weight = scale * traffic * (1.0 if method == "GET" else 0.3)
                        requests[key] += 0 if fresh else rng.randrange(0, max(1, int(weight * 2)) + 1)
                        add({"__name__": "http_requests_total", **base_labels, "method": method,
                             "status": status}, requests[key])
                observations = 0 if fresh else rng.randrange(20, 80)
                counts = [0] * len(BUCKETS)
                total_latency = 0.0
                for _ in range(observations):
                    latency = rng.lognormvariate(-2.0 + 0.3 * host + (0.5 if job == "web" else 0.0), 0.9)
                    total_latency += latency
                    for index, bound in enumerate(BUCKETS):
                        if latency <= float(bound):
                            counts[index] += 1
                for index, bound in enumerate(BUCKETS):
                    buckets[target][index] += counts[index]
                    add({"__name__": "http_request_duration_seconds_bucket", **base_labels, "le": bound},
                        buckets[target][index])
                latency_sum[target] += total_latency
                add({"__name__": "http_request_duration_seconds_sum", **base_labels}, latency_sum[target])
                add({"__name__": "http_request_duration_seconds_count", **base_labels}, buckets[target][-1])

                if job == "api":
                    rpc_count[target] += 0 if fresh else rng.randrange(5, 50)
                    rpc_sum[target] += 0.0 if fresh else rng.uniform(0.5, 5.0)
                    add({"__name__": "rpc_duration_seconds_sum", **base_labels}, rpc_sum[target])
                    add({"__name__": "rpc_duration_seconds_count", **base_labels}, rpc_count[target])
                    for quantile, typical in (("0.5", 0.05), ("0.9", 0.2), ("0.99", 0.8)):
                        value = typical * rng.uniform(0.7, 1.4) * (1 + host / 4)
                        if host == 0 and quantile == "0.99" and NAN_QUANTILE[0] <= minute < NAN_QUANTILE[1]:
                            value = math.nan
                        add({"__name__": "rpc_duration_seconds", **base_labels, "quantile": quantile}, value)
                    for name in ("email", "billing"):
                        queue[(host, name)] = max(0, queue[(host, name)] + rng.randrange(-3, 4))
                        add({"__name__": "queue_depth", **base_labels, "queue": name}, float(queue[(host, name)]))
                    if host == 0:
                        for worker in range(4):
                            if worker == 3 and WORKER_GAP[0] <= minute < WORKER_GAP[1]:
                                continue  # no sample, no stale marker: the series just stops
                            book.add({"__name__": "worker_active", **base_labels, "worker": f"w{worker}"},
                                     timestamp, float(rng.random() < 0.6))

                deploy_job, deploy_host, deploy_minute, new_version = DEPLOY
                if target == (deploy_job, deploy_host) and minute == deploy_minute:
                    stale = {"__name__": "app_info", **base_labels, "version": info_version[target]}
                    book.add(stale, timestamp, STALE_NAN)
                    info_version[target] = new_version
                add({"__name__": "app_info", **base_labels, "version": info_version[target]}, 1.0)
                last_labels[target] = written

        for host, host_name in enumerate(HOSTS):
            timestamp = (start_s + step * STEP_S) * 1000 + SCRAPE_OFFSETS_MS[("node", host)]
            node = {"job": "node", "instance": f"{host_name}:9100"}
            memory[host] = max(1e9, memory[host] + rng.randrange(-20_000, 20_001) * 4096)
            load[host] = max(0.01, 0.9 * load[host] + 0.1 * (host * 0.8 + rng.uniform(0, 2.5)))
            book.add({"__name__": "node_memory_available_bytes", **node}, timestamp, memory[host])
            book.add({"__name__": "node_load1", **node}, timestamp, round(load[host], 2))
            book.add({"__name__": "temperature_celsius", **node, "sensor": "cpu"}, timestamp,
                     round(45 + 8 * load[host] + rng.uniform(-2, 2), 3))
            book.add({"__name__": "temperature_celsius", **node, "sensor": "outside"}, timestamp,
                     round(2.5 + 6 * math.sin(step / 90 + host) + rng.uniform(-0.5, 0.5), 3))

        timestamp = (start_s + step * STEP_S) * 1000 + SCRAPE_OFFSETS_MS[("batch", 0)]
        batch = {"__name__": "batch_last_success_timestamp_seconds", "job": "batch", "instance": "batch-0:9091"}
        if minute < NIGHTLY_END:
            book.add({**batch, "task": "nightly"}, timestamp, float(start_s + (step // 20) * 300))
        elif minute == NIGHTLY_END:
            book.add({**batch, "task": "nightly"}, timestamp, STALE_NAN)
        if minute >= HOURLY_START:
            book.add({**batch, "task": "hourly"}, timestamp, float(start_s + (step // 8) * 120))
    return book.series()


def remote_write_bodies(dataset, window_s: int = 600) -> list[bytes]:
    """Snappy remote_write bodies, each holding every series' samples of one `window_s` window, in time order."""
    first = min(samples[0][0] for _, samples in dataset)
    last = max(samples[-1][0] for _, samples in dataset)
    bodies = []
    for window_start in range(first, last + 1, window_s * 1000):
        window_end = window_start + window_s * 1000
        batch = [(labels, [(t, v) for t, v in samples if window_start <= t < window_end])
                 for labels, samples in dataset]
        batch = [(labels, samples) for labels, samples in batch if samples]
        if batch:
            bodies.append(remote_write_body(batch))
    return bodies


# --- the queries -------------------------------------------------------------------------------------------------

AT = "{at}"  # replaced by a fixed Unix time inside the data (7.5 s past the 15 s grid)


@dataclass(frozen=True)
class Query:
    expr: str
    instant: bool = True
    range: bool = True
    ordered: bool = False  # sort/sort_desc: compare the order of the values too
    error: bool = False  # both must refuse it, with the same HTTP status and errorType


QUERIES = [
    # Selectors: the four matcher kinds, name regex, offset, @.
    Query('http_requests_total{job="api", method!="POST", status=~"2..|5..", instance!~"host-[01]:.*"}'),
    Query("up"),
    Query('{__name__=~"node_.*|temperature_.*", instance="host-1:9100"}'),
    Query("temperature_celsius offset 10m"),
    Query("node_load1 offset -5m"),
    Query('http_requests_total{status="500"} @ ' + AT),
    Query('http_requests_total{instance="host-2:8080", method="GET", status="200"}[10m]', range=False),
    Query('worker_active'),
    Query('batch_last_success_timestamp_seconds'),
    Query('app_info'),
    # Counter and gauge functions.
    Query("rate(http_requests_total[5m])"),
    Query('irate(http_requests_total{job="web"}[1m])'),
    Query('increase(http_requests_total{status="500"}[10m])'),
    Query("resets(http_requests_total[30m])"),
    Query("changes(up[30m])"),
    Query("delta(temperature_celsius[10m])"),
    Query("idelta(node_memory_available_bytes[2m])"),
    Query("deriv(node_memory_available_bytes[15m])"),
    Query("predict_linear(node_memory_available_bytes[30m], 3600)"),
    # Aggregations.
    Query("sum by (job, status) (rate(http_requests_total[5m]))"),
    Query("sum without (method, status) (rate(http_requests_total[5m]))"),
    Query("avg without (instance) (rate(http_request_duration_seconds_sum[5m])"
          " / rate(http_request_duration_seconds_count[5m]))"),
    Query("min by (sensor) (temperature_celsius)"),
    Query("max by (sensor) (temperature_celsius)"),
    Query("count by (job) (up == 1)"),
    Query("stddev by (sensor) (temperature_celsius)"),
    Query("stdvar(node_load1)"),
    Query("quantile by (job) (0.9, rate(http_requests_total[5m]))"),
    Query("topk(3, rate(http_requests_total[5m]))"),
    Query("bottomk(2, node_load1)"),
    Query('count_values("depth", queue_depth)'),
    Query("group by (job) (up)"),
    Query("max by (quantile) (rpc_duration_seconds)"),
    Query("sum by (quantile) (rpc_duration_seconds)"),
    # Histograms and summaries.
    Query("histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))"),
    Query("histogram_quantile(0.5, sum by (job, le) (rate(http_request_duration_seconds_bucket[5m])))"),
    Query('histogram_quantile(0.99, rate(http_request_duration_seconds_bucket{job="web"}[10m]))'),
    Query("rate(rpc_duration_seconds_sum[5m]) / rate(rpc_duration_seconds_count[5m])"),
    # Binary operators: vector/vector with matching, vector/scalar, comparisons with and without bool.
    Query('sum by (job, instance) (rate(http_requests_total{status=~"5.."}[5m]))'
          " / sum by (job, instance) (rate(http_requests_total[5m]))"),
    Query('rate(http_requests_total{status="500"}[5m])'
          ' / ignoring(status) group_left rate(http_requests_total{status="200"}[5m])'),
    Query("sum by (job, instance) (rate(http_requests_total[5m])) * on(job, instance) group_left(version) app_info"),
    Query("app_info * on(job, instance) group_right(version) rate(http_request_duration_seconds_count[5m])"),
    Query('rate(http_requests_total{method="GET"}[5m])'
          ' > ignoring(method) 3.3 * rate(http_requests_total{method="POST"}[5m])'),
    Query('rate(http_requests_total{method="GET"}[5m])'
          ' <= bool ignoring(method) 3.3 * rate(http_requests_total{method="POST"}[5m])'),
    Query("node_load1 > 1"),
    Query("node_load1 > bool 1"),
    Query("node_memory_available_bytes / 1024 / 1024"),
    Query("100 - node_load1 * 10 + 2 ^ 3"),
    Query("node_load1 % 0.5 - -node_load1"),
    Query("1 / node_load1"),
    Query("2 * 3 + 1"),
    # Set operators.
    Query('http_requests_total{status="500"} and on(job, instance) (up == 1)'),
    Query("rate(http_requests_total[5m]) unless on(job, instance) (queue_depth > 10)"),
    Query('up == 0 or on(job, instance) app_info'),
    Query("sum(up) or vector(0)"),
    # Offset and @.
    Query("rate(http_requests_total[5m] offset 30m)"),
    Query("sum(rate(http_requests_total[5m] @ start()))"),
    Query("max(node_load1 @ end())"),
    Query('rate(http_requests_total{job="api"}[5m] @ ' + AT + ")"),
    # Subqueries.
    Query('max_over_time(rate(http_requests_total{job="api"}[5m])[30m:1m])'),
    Query("avg_over_time(sum by (job) (rate(http_requests_total[5m]))[1h:5m])"),
    Query("min_over_time(node_load1[10m:])"),
    Query('max_over_time(rate(http_requests_total{status="200"}[5m])[20m:2m] offset 5m)'),
    # *_over_time.
    Query("avg_over_time(node_load1[10m])"),
    Query("min_over_time(temperature_celsius[30m])"),
    Query("max_over_time(temperature_celsius[30m])"),
    Query("sum_over_time(queue_depth[15m])"),
    Query("count_over_time(up[1h])"),
    Query("quantile_over_time(0.9, temperature_celsius[30m])"),
    Query("stddev_over_time(node_load1[1h])"),
    Query("stdvar_over_time(node_load1[1h])"),
    Query("last_over_time(batch_last_success_timestamp_seconds[1h])"),
    Query("present_over_time(worker_active[10m])"),
    Query("absent_over_time(nonexistent_metric[5m])"),
    Query('absent_over_time(worker_active{worker="w3"}[5m])'),
    Query("max_over_time(rpc_duration_seconds[15m])"),
    # Labels.
    Query('label_replace(up, "host", "$1", "instance", "(.*):.*")'),
    Query('label_join(node_load1, "id", "/", "job", "instance")'),
    Query('absent(nonexistent_metric{job="x", instance=~"y"})'),
    Query("absent(up)"),
    # Maths.
    Query("clamp(temperature_celsius, 0, 60)"),
    Query("clamp_min(temperature_celsius, 3) + on(instance) group_left clamp_max(node_load1, 1.5)"),
    Query("round(node_load1, 0.25)"),
    Query("abs(temperature_celsius)"),
    Query("sqrt(temperature_celsius)"),
    Query("ln(node_load1)"),
    Query("exp(node_load1)"),
    Query("log2(node_memory_available_bytes) + log10(node_load1)"),
    Query("ceil(temperature_celsius) - floor(temperature_celsius) + sgn(temperature_celsius)"),
    # Time and date.
    Query("time()"),
    Query("time() - batch_last_success_timestamp_seconds"),
    Query("hour()"),
    Query("minute(timestamp(up))"),
    Query("day_of_week() + day_of_month() + days_in_month() + month() + year()"),
    Query("timestamp(up)"),
    Query("timestamp(node_load1 offset 5m)"),
    # Scalars and vectors.
    Query("scalar(sum(up))"),
    Query("scalar(up)"),
    Query("vector(1)"),
    Query("sum(up) + scalar(count(app_info))"),
    Query("count(http_requests_total)"),
    # Sorting (instant queries only: a range query's series are ordered by labels).
    Query("sort(node_load1)", range=False, ordered=True),
    Query("sort(rpc_duration_seconds)", range=False, ordered=True),
    Query("sort_desc(rpc_duration_seconds)", range=False, ordered=True),
    # NaN among the inputs (api host-0's 0.99 quantile between minutes 20 and 30).
    Query("topk(3, rpc_duration_seconds)"),
    Query("bottomk(3, rpc_duration_seconds)"),
    Query("quantile(0.5, rpc_duration_seconds)"),
    Query("stddev by (quantile) (rpc_duration_seconds)"),
    Query("min_over_time(rpc_duration_seconds[15m]) + avg_over_time(rpc_duration_seconds[15m])"),
    Query('count_values("v", rpc_duration_seconds{quantile="0.99"})'),
    # Literals, edge values and odd corners.
    Query('"a string"', range=False),
    Query("42"),
    Query("1 > bool 2"),
    Query("time() % 3600 + scalar(vector(1)) * 2"),
    Query('count_values("load", node_load1)'),
    Query("topk by (job) (2, rate(http_requests_total[5m]))"),
    Query("quantile(1.5, node_load1)"),
    Query("histogram_quantile(-0.5, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))"),
    Query("clamp(node_load1, 2, 1)"),
    Query("1 / (node_load1 - node_load1)"),
    Query("(node_load1 - node_load1) / (node_load1 - node_load1)"),
    Query("rpc_duration_seconds > 0.1"),
    Query("sin(node_load1) + cos(node_load1) + deg(node_load1) - rad(temperature_celsius{sensor=\"cpu\"})"
          " * on(instance) group_left tan(node_load1)"),
    # Not over api host-2: the subquery's first point after its restart is the counter's value 45 s after the
    # restart, not 0, so 2.42 and 3.x extrapolate differently there (module doc, difference 8).
    Query('rate(http_requests_total{job="api", method="GET", instance!="host-2:8080"}[5m:1m])'),
    Query("sum by (job) (rate(http_requests_total[5m])) / on() group_left sum(rate(http_requests_total[5m]))"),
    Query('label_replace(up, "__name__", "up_copy", "", "")'),
    Query("count by (le) (http_request_duration_seconds_bucket)"),
    Query('sum by (__name__) ({__name__=~"http_request_duration_seconds_(sum|count)"})'),
    Query("increase(http_request_duration_seconds_bucket{le=\"0.25\"}[1h])"),
    Query("last_over_time(up[10m]) unless up"),
    Query("days_in_month(vector(" + AT + ")) + day_of_week(timestamp(up))"),
    # Errors: both must refuse these the same way.
    Query("http_requests_total + on(job) app_info", error=True),
    Query("rate(up)", error=True),
    Query("sum(up) by (", error=True),
    Query("sort_desc(sum by (instance) (rate(http_requests_total[5m])))", range=False, ordered=True),
]


# --- comparison --------------------------------------------------------------------------------------------------


def _float(text) -> float:
    return float(text)


def _same_value(expected: float, actual: float) -> bool:
    if math.isnan(expected) or math.isnan(actual):
        return math.isnan(expected) and math.isnan(actual)
    if expected == actual:
        return True
    return abs(expected - actual) <= RELATIVE_TOLERANCE * max(abs(expected), abs(actual))


def _series_key(metric: dict[str, str]) -> str:
    labels = dict(metric)
    name = labels.pop("__name__", "")
    return name + "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def _points(pairs) -> list[tuple[int, float]]:
    return [(round(float(t) * 1000), _float(v)) for t, v in pairs]


def compare_results(expected: dict, actual: dict, ordered: bool = False) -> list[str]:
    """Differences between two `data` objects of the query API (empty if they are equal); `expected` is
    Prometheus's."""
    if expected.get("resultType") != actual.get("resultType"):
        return [f"resultType {expected.get('resultType')} != {actual.get('resultType')}"]
    kind = expected["resultType"]
    if kind in ("scalar", "string"):
        (t1, v1), (t2, v2) = expected["result"], actual["result"]
        if round(float(t1) * 1000) != round(float(t2) * 1000):
            return [f"timestamp {t1} != {t2}"]
        if kind == "string":
            return [] if v1 == v2 else [f"string {v1!r} != {v2!r}"]
        return [] if _same_value(_float(v1), _float(v2)) else [f"scalar {v1} != {v2}"]

    def keyed(result) -> tuple[dict[str, list], list[str]]:
        rows: dict[str, list] = {}
        problems = []
        for row in result:
            key = _series_key(row["metric"])
            if key in rows:
                problems.append(f"series {key} appears twice")
            rows[key] = _points([row["value"]] if kind == "vector" else row["values"])
        return rows, problems

    expected_rows, _ = keyed(expected["result"])
    actual_rows, problems = keyed(actual["result"])
    missing = sorted(set(expected_rows) - set(actual_rows))
    extra = sorted(set(actual_rows) - set(expected_rows))
    if missing:
        problems.append(f"{len(missing)} series missing: {missing[:5]}")
    if extra:
        problems.append(f"{len(extra)} unexpected series: {extra[:5]}")
    for key in sorted(set(expected_rows) & set(actual_rows)):
        want, got = expected_rows[key], actual_rows[key]
        want_times, got_times = [t for t, _ in want], [t for t, _ in got]
        if want_times != got_times:
            only_want = sorted(set(want_times) - set(got_times))
            only_got = sorted(set(got_times) - set(want_times))
            problems.append(f"{key}: timestamps differ ({len(want)} vs {len(got)} points; only in Prometheus:"
                            f" {only_want[:4]}, only in oxeye: {only_got[:4]})")
            continue
        for (t, v1), (_, v2) in zip(want, got):
            if not _same_value(v1, v2):
                problems.append(f"{key} @ {t / 1000:.3f}: {v1!r} != {v2!r}")
                break
    if ordered and not problems:
        want_order = [_float(row["value"][1]) for row in expected["result"]]
        got_order = [_float(row["value"][1]) for row in actual["result"]]
        if not all(_same_value(a, b) for a, b in zip(want_order, got_order)):
            problems.append(f"order differs: {want_order} != {got_order}")
    return problems


# --- the test ----------------------------------------------------------------------------------------------------


def _query_api(base_url: str, path: str, params: dict[str, str]) -> dict:
    response = http_client.get(base_url + path, params=params, timeout=30)
    try:
        payload = response.json()
    except ValueError:
        payload = {"status": "error", "http": response.status, "body": response.text[:500]}
    payload["http_status"] = response.status
    return payload


def _write_all(base_url: str, bodies: list[bytes], system: str) -> None:
    headers = {"Content-Type": REMOTE_WRITE_CONTENT_TYPE, **REMOTE_WRITE_HEADERS}
    for index, body in enumerate(bodies):
        response = http_client.post(base_url + "/api/v1/write", body, headers=headers, timeout=30)
        assert 200 <= response.status < 300, f"{system} refused body {index}: {response.status} {response.text}"


def _compact(payload: dict, limit: int = 6000) -> str:
    text = json.dumps(payload, sort_keys=True)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def test_promql_matches_prometheus(oxeye, prometheus_factory, tmp_path):
    assert math.isnan(STALE_NAN) and struct.pack("<d", STALE_NAN) == struct.pack("<Q", 0x7FF0_0000_0000_0002)

    config_path = tmp_path / "prometheus.yml"
    config_path.write_text(json.dumps({"global": {"scrape_interval": "15s", "evaluation_interval": "1m"}}))
    _, prometheus_port = prometheus_factory(lambda port: [
        f"--config.file={config_path}", f"--storage.tsdb.path={tmp_path / 'prometheus-data'}",
        f"--web.listen-address=127.0.0.1:{port}", "--web.enable-remote-write-receiver",
    ])
    prometheus_url = f"http://127.0.0.1:{prometheus_port}"

    # Two hours ending a minute or two before now, starting on a whole minute.
    start_s = (int(time.time()) // 60) * 60 - DATA_MINUTES * 60 - 60
    end_s = start_s + DATA_MINUTES * 60
    dataset = build_dataset(start_s)
    assert 150 <= len(dataset) <= 250, len(dataset)
    bodies = remote_write_bodies(dataset)
    _write_all(prometheus_url, bodies, "prometheus")
    _write_all(oxeye.url, bodies, "oxeye")

    # Every evaluation time lies 7.5 s past the 15 s grid (module doc, difference 1).
    at = f"{start_s + 65 * 60 + 7}.5"
    instant_times = [
        f"{end_s - 23}.5",            # a dashboard's "now"
        f"{start_s + 25 * 60 + 7}.5",  # api host-0's 0.99 quantile is NaN
        f"{start_s + 52 * 60 + 7}.5",  # api host-2 just restarted; worker w3 present
        f"{start_s + 83 * 60 + 22}.5",  # web host-3 down, app_info deployed, w3 gone, nightly batch stale
        f"{end_s + 3 * 60 + 37}.5",   # after the data's end, within the 5 m lookback
    ]
    ranges = [
        {"start": f"{start_s + 37}.5", "end": f"{end_s - 23}.5", "step": "60"},
        {"start": f"{start_s + 38 * 60 + 7}.5", "end": f"{start_s + 105 * 60}", "step": "15"},
    ]

    checked = non_empty = 0
    failures: list[str] = []
    for query in QUERIES:
        expr = query.expr.replace(AT, at)
        requests = []
        if query.instant:
            requests += [("/api/v1/query", {"query": expr, "time": t}) for t in instant_times]
        if query.range:
            requests += [("/api/v1/query_range", {"query": expr, **r}) for r in ranges]
        for path, params in requests:
            expected = _query_api(prometheus_url, path, params)
            actual = _query_api(oxeye.url, path, params)
            checked += 1
            if query.error:
                refusals = [(answer.get("http_status"), answer.get("errorType")) for answer in (expected, actual)]
                if expected.get("status") != "error" or refusals[0] != refusals[1]:
                    failures.append(f"{path} {params}\n  want the same refusal, got (HTTP status, errorType)"
                                    f" {refusals}\n  prometheus: {_compact(expected)}"
                                    f"\n  oxeye:      {_compact(actual)}")
                continue
            if expected.get("status") != "success":
                failures.append(f"Prometheus failed {path} {params}: {_compact(expected)}")
                continue
            if actual.get("status") != "success":
                problems = [f"oxeye answered {actual.get('http_status')} {actual.get('errorType')}:"
                            f" {actual.get('error') or actual.get('body')}"]
            else:
                problems = compare_results(expected["data"], actual["data"], query.ordered)
            if expected["data"]["resultType"] not in ("vector", "matrix") or expected["data"]["result"]:
                non_empty += 1
            if problems:
                failures.append(
                    f"{path} {params}\n  differences: " + "\n    ".join(problems)
                    + f"\n  prometheus: {_compact(expected.get('data', expected))}"
                    + f"\n  oxeye:      {_compact(actual.get('data', actual))}"
                )
    assert len(QUERIES) >= 50 and checked > 300
    # Guards against a vacuous pass (say, data that did not arrive): all but a few answers hold something.
    assert non_empty >= 0.9 * checked, f"only {non_empty} of {checked} Prometheus answers are non-empty"
    assert not failures, (f"{len(failures)} of {checked} answers differ from Prometheus 2.42:\n\n"
                          + "\n\n".join(failures))
