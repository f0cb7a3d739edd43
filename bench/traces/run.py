#!/usr/bin/env python3
"""Trace benchmark of oxeye: spans ingested per CPU second, bytes per span on disk, trace-by-id and TraceQL latency.

Generates a reproducible workload of microservice traces with bench/traces-workload (15 services, depth up to 6,
about 20 spans a trace, 1.5 % error traces with exception events; 5 million spans by default) as the OTLP protobuf
request bodies the services' SDKs would send. Starts oxeye on 127.0.0.1 with an empty data directory, replays the
bodies to `POST /v1/traces` with a few concurrent connections, flushes, and measures the server's CPU time and its
trace store against the exact protobuf bytes sent and against `zstd -3` of them. Then times trace-by-id lookups of
random ingested traces (`GET /api/traces/<id>`, sequential) and TraceQL searches over the whole time range
(`GET /api/search`), checking every answer against what the generator recorded. Prints a Markdown report with the
goals, met or missed. See bench/README.md.

Python 3.11 standard library only. The server machinery is bench/metrics/run.py's, imported from there. Only
processes started here are signalled, by PID; every wait is bounded.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import os
import queue
import resource
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass
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

WORKLOAD_FORMAT = 1
WORKLOAD_TOOL = "oxeye-bench-traces-workload"
FRAME_HEADER = struct.Struct(">II")  # spans, body length (bench/traces-workload/src/batch_exporter.rs)

REQUEST_TIMEOUT_S = 300
FLUSH_TIMEOUT_S = 1800
SETTLE_MAX_S = 300
QUERY_TIMEOUT_S = 120
ZSTD_TIMEOUT_S = 3600
BUILD_TIMEOUT_S = 3600
GENERATE_TIMEOUT_S = 3600

GOAL_BY_ID_P99_MS = 50.0
GOAL_SELECTIVE_MS = 1000.0
GOAL_DISK_VS_PROTOBUF = 1 / 8

OXEYE_CONFIG = """\
# Written by bench/traces/run.py: the benchmark measures throughput, not the per-tenant rate limiter
# (default 100,000 spans/s with a burst of 200,000). Everything else is oxeye's default (span metrics and service
# graphs on, no sampling).
traces:
  ingestion_rate_spans: 100000000
  ingestion_burst_spans: 100000000
"""


# --- the workload ------------------------------------------------------------------------------------------------


def target_dir() -> Path:
    return Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/oxeye-target"))


def build_workload_tool(no_build: bool) -> Path:
    binary = target_dir() / "release" / WORKLOAD_TOOL
    if not no_build:
        log(f"building {WORKLOAD_TOOL} (release)")
        completed = subprocess.run(["cargo", "build", "--release", "-p", WORKLOAD_TOOL], cwd=REPO,
                                   timeout=BUILD_TIMEOUT_S)
        if completed.returncode != 0:
            raise RuntimeError(f"cargo build -p {WORKLOAD_TOOL} failed")
    if not binary.is_file():
        raise RuntimeError(f"{binary} not found; build it: cargo build --release -p {WORKLOAD_TOOL}")
    return binary


def generate_workload(tool: Path, directory: Path, args) -> dict:
    argv = [str(tool), "--spans", str(args.spans), "--seed", str(args.seed), "--spans-per-second",
            str(args.spans_per_second), "--out", str(directory)]
    log(f"generating {args.spans:,} spans: {' '.join(argv)}")
    completed = subprocess.run(argv, timeout=GENERATE_TIMEOUT_S, stdout=subprocess.PIPE, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"{WORKLOAD_TOOL} exited {completed.returncode}")
    log(completed.stdout.strip())
    return load_manifest(directory)


def load_manifest(directory: Path) -> dict:
    manifest = json.loads((directory / "manifest.json").read_text())
    if manifest.get("format") != WORKLOAD_FORMAT:
        raise RuntimeError(f"{directory} holds a workload of format {manifest.get('format')}, not {WORKLOAD_FORMAT}")
    return manifest


def read_frames(path: Path):
    """(spans, body) of every request in spans.bin, in order."""
    with open(path, "rb") as bodies:
        while header := bodies.read(FRAME_HEADER.size):
            spans, length = FRAME_HEADER.unpack(header)
            body = bodies.read(length)
            if len(body) != length:
                raise RuntimeError(f"{path} is truncated")
            yield spans, body


# --- the server --------------------------------------------------------------------------------------------------


@dataclass
class OxeyeTraces(ingest.SystemUnderTest):
    config_path: Path | None = None

    def command(self, data_dir: Path, port: int, workdir: Path) -> list[str]:
        argv = [str(self.binary), "serve"]
        if self.config_path is not None:
            argv += ["--config", str(self.config_path)]
        return argv + ["--data-dir", str(data_dir), "--listen", f"127.0.0.1:{port}",
                       "--otlp-grpc-listen", f"127.0.0.1:{ingest.free_port()}",
                       "--otlp-http-listen", f"127.0.0.1:{ingest.free_port()}"]


# --- replay ------------------------------------------------------------------------------------------------------


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7


def rejected_spans(body: bytes) -> tuple[int, str]:
    """`partial_success.rejected_spans` and `error_message` of a protobuf ExportTraceServiceResponse."""
    rejected, message = 0, ""
    position = 0
    while position < len(body):
        key, position = _varint(body, position)
        if key & 7 != 2:
            return rejected, message  # nothing else is expected at the top level
        length, position = _varint(body, position)
        inner, position = body[position:position + length], position + length
        if key >> 3 != 1:
            continue
        inner_position = 0
        while inner_position < len(inner):
            inner_key, inner_position = _varint(inner, inner_position)
            if inner_key == (1 << 3):  # rejected_spans, varint
                rejected, inner_position = _varint(inner, inner_position)
            elif inner_key & 7 == 2:
                inner_length, inner_position = _varint(inner, inner_position)
                message = inner[inner_position:inner_position + inner_length].decode(errors="replace")
                inner_position += inner_length
            else:
                break
    return rejected, message


def replay(workload: Path, manifest: dict, server: ingest.Server, concurrency: int) -> dict:
    """Sends every body in order, `concurrency` at a time over keep-alive connections to `POST /v1/traces`. Fails on
    the first answer that is not a full success."""
    frames: queue.Queue = queue.Queue(maxsize=2 * concurrency)
    stop = threading.Event()
    errors: list[str] = []
    latencies: list[float] = []
    sent_spans = [0]
    lock = threading.Lock()

    def reader() -> None:
        try:
            for frame in read_frames(workload / manifest["bodies_file"]):
                while not stop.is_set():
                    try:
                        frames.put(frame, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    break
        except (OSError, RuntimeError) as error:
            with lock:
                errors.append(f"reading the bodies: {error}")
            stop.set()
        finally:
            for _ in range(concurrency):
                while True:
                    try:
                        frames.put(None, timeout=0.5)
                        break
                    except queue.Full:
                        if stop.is_set():
                            try:
                                frames.get_nowait()
                            except queue.Empty:
                                pass

    def sender() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=REQUEST_TIMEOUT_S)
        try:
            while True:
                frame = frames.get()
                if frame is None or stop.is_set():
                    return
                spans, body = frame
                started = time.perf_counter()
                problem = None
                try:
                    connection.request("POST", "/v1/traces", body=body,
                                       headers={"Content-Type": "application/x-protobuf"})
                    response = connection.getresponse()
                    answer = response.read()
                    if not 200 <= response.status < 300:
                        problem = f"HTTP {response.status}: {answer[:500].decode(errors='replace')}"
                    else:
                        rejected, message = rejected_spans(answer)
                        if rejected:
                            problem = f"partial success: {rejected} spans rejected: {message[:300]}"
                except (OSError, ValueError, IndexError, http.client.HTTPException) as error:
                    problem = f"{type(error).__name__}: {error}"
                elapsed = time.perf_counter() - started
                with lock:
                    if problem:
                        errors.append(f"POST /v1/traces: {problem}")
                    else:
                        latencies.append(elapsed)
                        sent_spans[0] += spans
                if problem:
                    stop.set()
                    return
        finally:
            connection.close()

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(concurrency)]
    started = time.monotonic()
    feeder = threading.Thread(target=reader, daemon=True)
    feeder.start()
    for thread in threads:
        thread.start()
    deadline = started + max(3600.0, manifest["spans"] / 2000)  # a bound far beyond 2,000 spans/s
    for thread in threads:
        thread.join(timeout=max(1.0, deadline - time.monotonic()))
    if any(thread.is_alive() for thread in threads):
        stop.set()
        errors.append("the replay did not finish in time")
    wall = time.monotonic() - started
    feeder.join(timeout=10)
    if errors:
        raise RuntimeError(f"replay failed: {errors[0]}\nserver log:\n{server.log_tail()}")
    if len(latencies) != manifest["requests"] or sent_spans[0] != manifest["spans"]:
        raise RuntimeError(f"replay sent {len(latencies)} requests with {sent_spans[0]} spans, expected"
                           f" {manifest['requests']} with {manifest['spans']}")
    ordered = sorted(latencies)
    return {"wall_seconds": wall, "requests": len(latencies), "spans": sent_spans[0], "concurrency": concurrency,
            "slow_requests_over_1s": sum(1 for latency in latencies if latency > 1.0),
            "latency_p50_ms": percentile(ordered, 0.5), "latency_p99_ms": percentile(ordered, 0.99),
            "latency_max_ms": ordered[-1] * 1000}


def percentile(ordered: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of sorted seconds, in ms."""
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


# --- disk, zstd, self-metrics ------------------------------------------------------------------------------------


def measure_dir(directory: Path) -> dict:
    """Bytes of every regular file under `directory`, by first path component (blocks, wal, …)."""
    usage = {"path": str(directory), "total_bytes": 0, "by_part": {}, "files": 0}
    for root, _dirs, files in os.walk(directory):
        relative = Path(root).relative_to(directory).parts
        part = relative[0] if relative else "(top)"
        for name in files:
            path = Path(root) / name
            if path.is_symlink():
                continue
            size = path.lstat().st_size
            usage["total_bytes"] += size
            usage["files"] += 1
            usage["by_part"][part] = usage["by_part"].get(part, 0) + size
    blocks = directory / "blocks"
    usage["blocks"] = len(list(blocks.iterdir())) if blocks.is_dir() else 0
    return usage


def run_zstd(workload: Path, manifest: dict) -> dict:
    """`zstd -3 -T1` of the request bodies back to back (the exact protobuf bytes sent, without frame headers)."""
    binary = shutil.which("zstd")
    if binary is None:
        return {"error": "zstd not found on PATH"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    process = subprocess.Popen([binary, "-3", "-T1", "-q", "-c"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
    compressed = [0]

    def drain() -> None:
        assert process.stdout is not None
        while chunk := process.stdout.read(1 << 20):
            compressed[0] += len(chunk)

    drainer = threading.Thread(target=drain, daemon=True)
    drainer.start()
    fed = 0
    try:
        assert process.stdin is not None
        for _spans, body in read_frames(workload / manifest["bodies_file"]):
            process.stdin.write(body)
            fed += len(body)
        process.stdin.close()
        process.wait(timeout=ZSTD_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    drainer.join(timeout=60)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode != 0:
        return {"error": f"zstd exited {process.returncode}"}
    return {"bytes": compressed[0], "input_bytes": fed, "wall_seconds": wall,
            "cpu_seconds": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime}


def self_metrics(base_url: str) -> dict:
    """oxeye's trace-related self-metrics (`oxeye_span*`, `oxeye_trace*`), summed over their labels."""
    status, text = ingest.http_request(base_url + "/metrics", timeout=30, limit=None)
    values: dict[str, float] = {}
    if status != 200:
        return values
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name.startswith(("oxeye_span", "oxeye_trace")) and not name.endswith("_bucket"):
            try:
                values[name] = values.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
            except ValueError:
                pass
    return values


# --- queries -----------------------------------------------------------------------------------------------------


class Client:
    """One keep-alive connection to the server's main port."""

    def __init__(self, port: int, timeout_s: float):
        self.port, self.timeout_s = port, timeout_s
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)

    def get(self, path: str, headers: dict | None = None) -> tuple[float, int, bytes]:
        """Seconds from sending the request to having read the whole answer, status and body."""
        for attempt in range(2):
            started = time.perf_counter()
            try:
                self.connection.request("GET", path, headers=headers or {})
                response = self.connection.getresponse()
                body = response.read()
                return time.perf_counter() - started, response.status, body
            except (http.client.HTTPException, ConnectionError):
                # A keep-alive connection the server closed: reconnect once (the failed try is not timed).
                self.connection.close()
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout_s)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.connection.close()


def count_spans(trace_json: dict) -> int:
    return sum(len(scope.get("spans", [])) for batch in trace_json.get("batches", [])
               for scope in batch.get("scopeSpans", batch.get("instrumentationLibrarySpans", [])))


def run_by_id(client: Client, manifest: dict, count: int) -> dict:
    """Sequential `GET /api/traces/<id>` of `count` sampled trace ids: JSON (span count checked) then protobuf."""
    sample = manifest["sample"][:count]
    result: dict = {"ids": len(sample)}
    for label, headers in (("json", {}), ("protobuf", {"Accept": "application/protobuf"})):
        times, wrong, errors, answer_bytes = [], [], [], 0
        for entry in sample:
            elapsed, status, body = client.get(f"/api/traces/{entry['trace_id']}", headers)
            if status != 200:
                errors.append(f"{entry['trace_id']}: HTTP {status} {body[:200].decode(errors='replace')}")
                continue
            times.append(elapsed)
            answer_bytes += len(body)
            if label == "json":
                spans = count_spans(json.loads(body))
                if spans != entry["spans"]:
                    wrong.append(f"{entry['trace_id']}: {spans} spans, expected {entry['spans']}")
        ordered = sorted(times)
        result[label] = {
            "answered": len(times), "errors": errors[:5], "error_count": len(errors), "wrong": wrong[:5],
            "wrong_count": len(wrong), "p50_ms": percentile(ordered, 0.5), "p90_ms": percentile(ordered, 0.9),
            "p99_ms": percentile(ordered, 0.99), "max_ms": ordered[-1] * 1000 if ordered else None,
            "mean_answer_bytes": answer_bytes / len(times) if times else 0,
        }
        log(f"trace by id ({label}): {len(times)} answered, p50 {result[label]['p50_ms']:.1f} ms,"
            f" p99 {result[label]['p99_ms']:.1f} ms; {len(errors)} errors, {len(wrong)} wrong span counts")
    return result


@dataclass(frozen=True)
class SearchQuery:
    name: str
    traceql: str
    expected: list  # every trace id that matches
    selective: bool  # judged by the selective-search goal


def build_queries(manifest: dict) -> list[SearchQuery]:
    needle = manifest["needle"]
    return [
        SearchQuery("order-id", f'{{ span.order.id = "{needle["order_id"]}" }}', needle["order_trace_ids"], True),
        SearchQuery("user-id", f'{{ span.user.id = "{needle["user_id"]}" }}', needle["user_trace_ids"], True),
        SearchQuery("errors", "{ status = error }", manifest["error_traces_expected"]["trace_ids"], False),
        SearchQuery("checkout-slow", '{ resource.service.name = "checkout" && duration > 500ms }',
                    manifest["checkout_slow_expected"]["trace_ids"], False),
    ]


def check_search(query: SearchQuery, answer: dict, limit: int) -> tuple[int, str]:
    """Traces returned, and why the answer is wrong (empty when right): exactly min(limit, matches) traces, every
    one a match; all of them when they fit in the limit."""
    ids = [str(trace.get("traceID", "")).rjust(32, "0") for trace in answer.get("traces") or []]
    expected = set(query.expected)
    strays = [trace_id for trace_id in ids if trace_id not in expected]
    want = min(limit, len(expected))
    if strays:
        return len(ids), f"{len(strays)} traces that do not match, e.g. {strays[0]}"
    if len(set(ids)) != len(ids):
        return len(ids), "a trace returned twice"
    if len(ids) != want:
        return len(ids), f"{len(ids)} traces, expected {want} ({len(expected)} match, limit {limit})"
    return len(ids), ""


def run_searches(client: Client, manifest: dict, runs: int, limit: int) -> list[dict]:
    start_s = manifest["start_ns"] // 1_000_000_000
    end_s = manifest["end_ns"] // 1_000_000_000 + 1
    results = []
    for query in build_queries(manifest):
        params = urllib.parse.urlencode({"q": query.traceql, "limit": limit, "start": start_s, "end": end_s})
        path = f"/api/search?{params}"
        entry = {"name": query.name, "traceql": query.traceql, "matches": len(query.expected),
                 "selective": query.selective, "runs_ms": [], "error": "", "check": "", "returned": 0}
        results.append(entry)
        try:
            _, status, body = client.get(path)  # warm-up, checked
            if status != 200:
                entry["error"] = f"HTTP {status}: {body[:300].decode(errors='replace')}"
            else:
                answer = json.loads(body)
                entry["returned"], entry["check"] = check_search(query, answer, limit)
                entry["search_metrics"] = answer.get("metrics", {})
                for _ in range(runs):
                    elapsed, status, _ = client.get(path)
                    if status != 200:
                        entry["error"] = f"HTTP {status} in a timed run"
                        break
                    entry["runs_ms"].append(elapsed * 1000)
        except (OSError, ValueError) as error:
            entry["error"] = f"{type(error).__name__}: {error}"[:400]
        entry["median_ms"] = statistics.median(entry["runs_ms"]) if entry["runs_ms"] and not entry["error"] else None
        log(f"search {query.name}: " + (entry["error"] or f"median {entry['median_ms']:.1f} ms, {entry['returned']}"
                                        f" traces" + (f" WRONG: {entry['check']}" if entry["check"] else "")))
    return results


# --- the run -----------------------------------------------------------------------------------------------------


def measure(system: OxeyeTraces, workload: Path, manifest: dict, workdir: Path, args) -> dict:
    """Starts oxeye on an empty data directory, replays, flushes, measures the disk, runs the queries, stops it."""
    result: dict = {}
    server = ingest.Server(system, workdir)
    traces_dir = server.data_dir / "tenants" / "default" / "traces"
    try:
        server.start()
        log(f"oxeye: started {system.binary} on {server.base_url} (PID {server.pid()})")
        result["ready_seconds"] = server.wait_ready()
        time.sleep(1.0)
        cpu_ready = server.cpu_seconds()
        client_before = resource.getrusage(resource.RUSAGE_SELF)
        log(f"oxeye: replaying {manifest['spans']:,} spans in {manifest['requests']:,} requests"
            f" ({manifest['protobuf_bytes'] / 1e6:,.1f} MB protobuf), {args.concurrency} in flight")
        result["replay"] = replay(workload, manifest, server, args.concurrency)
        cpu_replayed = server.cpu_seconds()
        client_after = resource.getrusage(resource.RUSAGE_SELF)
        result["client_cpu_seconds"] = (client_after.ru_utime + client_after.ru_stime
                                        - client_before.ru_utime - client_before.ru_stime)
        result["cpu_replay_seconds"] = cpu_replayed - cpu_ready
        result["peak_rss_replay_bytes"] = server.peak_rss_bytes()
        wall = result["replay"]["wall_seconds"]
        log(f"oxeye: replayed in {wall:.1f} s ({manifest['spans'] / wall:,.0f} spans/s),"
            f" server CPU {result['cpu_replay_seconds']:.1f} s")
        result["disk_before_flush"] = measure_dir(traces_dir)

        flush_started = time.monotonic()
        status, body = ingest.http_request(server.base_url + "/api/v1/admin/flush", method="POST",
                                           timeout=FLUSH_TIMEOUT_S)
        result["flush_seconds"] = time.monotonic() - flush_started
        if not 200 <= status < 300:
            raise RuntimeError(f"POST /api/v1/admin/flush answered {status}: {body.strip()[:500]}")
        result["settle_seconds"] = server.quiesce(max_seconds=SETTLE_MAX_S)
        cpu_settled = server.cpu_seconds()
        result["cpu_flush_seconds"] = cpu_settled - cpu_replayed
        result["peak_rss_bytes"] = server.peak_rss_bytes()
        log(f"oxeye: flushed in {result['flush_seconds']:.1f} s, idle after {result['settle_seconds']:.1f} s more;"
            f" CPU {result['cpu_flush_seconds']:.1f} s")
        result["disk"] = measure_dir(traces_dir)
        result["data_dir"] = measure_dir(server.data_dir)
        result["self_metrics"] = self_metrics(server.base_url)
        log(f"oxeye: trace store {result['disk']['total_bytes'] / 1e6:,.1f} MB after the flush"
            f" ({result['disk']['by_part']}); self-metrics {result['self_metrics']}")

        if not args.no_queries:
            client = Client(server.port, args.timeout)
            try:
                result["by_id"] = run_by_id(client, manifest, args.by_id)
                result["searches"] = run_searches(client, manifest, args.runs, args.limit)
            finally:
                client.close()
            result["cpu_queries_seconds"] = server.cpu_seconds() - cpu_settled
            result["peak_rss_bytes"] = max(result["peak_rss_bytes"], server.peak_rss_bytes())
        server.stop()
        if server.final_rusage is not None:
            result["peak_rss_bytes"] = max(result["peak_rss_bytes"], server.final_rusage.ru_maxrss * 1024)
        if server.killed:
            raise RuntimeError("oxeye had to be killed (SIGKILL) after SIGTERM")
        result["disk_after_stop"] = measure_dir(traces_dir)
    finally:
        server.stop()
    return result


def build_report(manifest: dict, measured: dict, zstd: dict) -> dict:
    spans, protobuf = manifest["spans"], manifest["protobuf_bytes"]
    figures: dict = {}
    if measured.get("replay"):
        cpu_replay = measured["cpu_replay_seconds"]
        cpu_total = cpu_replay + measured.get("cpu_flush_seconds", 0.0)
        figures.update({
            "wall_spans_per_s": spans / measured["replay"]["wall_seconds"],
            "spans_per_cpu_s": spans / cpu_total if cpu_total else None,
            "spans_per_cpu_s_replay_only": spans / cpu_replay if cpu_replay else None,
            "protobuf_mb_per_cpu_s": protobuf / 1e6 / cpu_total if cpu_total else None,
        })
    disk = measured.get("disk")
    if disk:
        figures["disk_bytes_per_span"] = disk["total_bytes"] / spans
        figures["disk_vs_protobuf"] = disk["total_bytes"] / protobuf
        if zstd.get("bytes"):
            figures["disk_vs_zstd"] = disk["total_bytes"] / zstd["bytes"]
    if zstd.get("bytes"):
        figures["zstd_bytes_per_span"] = zstd["bytes"] / spans
        figures["zstd_vs_protobuf"] = zstd["bytes"] / protobuf
    goals = []

    def goal(name: str, target: str, value, passed) -> None:
        goals.append({"goal": name, "target": target, "measured": value, "passed": passed})

    by_id = (measured.get("by_id") or {}).get("json")
    if by_id:
        ok = not by_id["error_count"] and not by_id["wrong_count"]
        goal("trace by id p99, ms (JSON, 1 client)", f"< {GOAL_BY_ID_P99_MS:g}", by_id["p99_ms"],
             by_id["p99_ms"] < GOAL_BY_ID_P99_MS and ok)
    else:
        goal("trace by id p99, ms (JSON, 1 client)", f"< {GOAL_BY_ID_P99_MS:g}", None, None)
    for search in measured.get("searches") or []:
        if search["selective"]:
            value = search.get("median_ms")
            passed = None if value is None else (value < GOAL_SELECTIVE_MS and not search["check"])
            goal(f"selective search `{search['name']}` median, ms", f"< {GOAL_SELECTIVE_MS:g}", value, passed)
    value = figures.get("disk_vs_protobuf")
    goal("bytes on disk / OTLP protobuf bytes", "<= 0.125", value, None if value is None else value <= GOAL_DISK_VS_PROTOBUF)
    return {"manifest": {key: value for key, value in manifest.items()
                         if key not in ("sample", "error_traces_expected", "checkout_slow_expected")},
            "measured": measured, "zstd": zstd, "figures": figures, "goals": goals}


def _num(value, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def print_report(report: dict) -> None:
    manifest, measured, zstd, figures = report["manifest"], report["measured"], report["zstd"], report["figures"]
    spans, protobuf = manifest["spans"], manifest["protobuf_bytes"]
    print()
    print(f"workload: {spans:,} spans in {manifest['traces']:,} traces ({manifest['spans_per_trace_mean']:.1f} a"
          f" trace, at most {manifest['spans_per_trace_max']}; depth histogram {manifest['depth_histogram']}),"
          f" {len(manifest['services'])} services on {manifest['pods']} pods, {manifest['error_traces']:,} error traces"
          f" ({100 * manifest['error_traces'] / manifest['traces']:.2f} %; {manifest['error_spans']:,} error spans,"
          f" {manifest['exception_events']:,} exception events), {manifest['attributes_per_span_mean']:.1f} attributes"
          f" a span; {manifest['requests']:,} OTLP requests of {manifest['batch_spans_mean']:.0f} spans on average"
          f" (median {manifest['batch_spans_p50']}), {protobuf / 1e6:,.1f} MB protobuf"
          f" ({protobuf / spans:.1f} B/span); {(manifest['end_ns'] - manifest['start_ns']) / 60e9:.1f} minutes of traffic")
    print()
    print("### Ingest")
    print()
    print("| figure | value |")
    print("|---|---:|")
    replay_result = measured.get("replay")
    if replay_result:
        rows = [
            (f"replay wall time, s ({replay_result.get('concurrency', '?')} connections)",
             _num(replay_result["wall_seconds"])),
            ("wall-clock spans/s", _num(figures["wall_spans_per_s"], 0)),
            ("server CPU s: replay + flush and settle",
             f"{measured['cpu_replay_seconds']:.1f} + {measured.get('cpu_flush_seconds', 0):.1f}"),
            ("**spans/s per server CPU s** (replay + flush)", f"**{_num(figures['spans_per_cpu_s'], 0)}**"),
            ("spans/s per server CPU s, replay only", _num(figures["spans_per_cpu_s_replay_only"], 0)),
            ("OTLP protobuf MB/s per server CPU s", _num(figures["protobuf_mb_per_cpu_s"])),
            ("flush s (then idle after s)",
             f"{measured.get('flush_seconds', 0):.1f} ({measured.get('settle_seconds', 0):.1f})"),
            ("peak RSS MiB", _num(measured.get("peak_rss_bytes", 0) / 2**20)),
            ("request latency p50 / p99 / max ms",
             f"{replay_result['latency_p50_ms']:.1f} / {replay_result['latency_p99_ms']:.1f} /"
             f" {replay_result['latency_max_ms']:.1f}"),
            ("requests slower than 1 s", str(replay_result.get("slow_requests_over_1s", "-"))),
            ("replay client CPU s (this script)", _num(measured["client_cpu_seconds"])),
        ]
        for name, value in rows:
            print(f"| {name} | {value} |")
    else:
        first_line = (measured.get("error") or "not run").splitlines()[0]
        print(f"| ingest | FAILED: {first_line[:300].replace('|', '/')} |")
    print()
    print("### Bytes")
    print()
    print("| what | MB | bytes/span | / protobuf |")
    print("|---|---:|---:|---:|")

    def size_row(name: str, size: int) -> None:
        print(f"| {name} | {size / 1e6:,.2f} | {size / spans:,.1f} | {size / protobuf:.4f} |")

    size_row("OTLP protobuf sent (request bodies)", protobuf)
    if zstd.get("bytes"):
        size_row(f"`zstd -3 -T1` of the bodies back to back ({zstd['wall_seconds']:.1f} s)", zstd["bytes"])
    else:
        print(f"| `zstd -3` | {zstd.get('error', 'not run')} | | |")
    disk = measured.get("disk")
    if disk:
        size_row(f"**oxeye trace store after flush** ({disk['blocks']} blocks)", disk["total_bytes"])
        for part, size in sorted(disk["by_part"].items(), key=lambda item: -item[1]):
            size_row(f"&nbsp;&nbsp;{part}/", size)
        after = measured.get("disk_after_stop")
        if after:
            size_row("oxeye trace store after a graceful stop", after["total_bytes"])
        whole = measured.get("data_dir")
        if whole:
            size_row("whole data directory after flush (span metrics included)", whole["total_bytes"])
    print()
    print("### Queries")
    print()
    by_id = measured.get("by_id")
    if by_id:
        print(f"Trace by id, {by_id['ids']:,} random ingested trace ids, sequential, one keep-alive connection:")
        print()
        print("| request | p50 ms | p90 ms | p99 ms | max ms | answer bytes (mean) | check |")
        print("|---|---:|---:|---:|---:|---:|---|")
        for label in ("json", "protobuf"):
            entry = by_id[label]
            check = ("right" if label == "json" else "HTTP 200") if not entry["error_count"] and not entry["wrong_count"] \
                else f"**{entry['error_count']} errors, {entry['wrong_count']} wrong**"
            accept = "" if label == "json" else " (`Accept: application/protobuf`)"
            print(f"| `GET /api/traces/<id>`{accept} | {_num(entry['p50_ms'])} | {_num(entry['p90_ms'])} |"
                  f" {_num(entry['p99_ms'])} | {_num(entry['max_ms'])} | {_num(entry['mean_answer_bytes'], 0)} | {check} |")
        print()
    searches = measured.get("searches")
    if searches:
        print("TraceQL search over the whole time range (`GET /api/search`, `limit` 20), median of the timed runs:")
        print()
        print("| query | TraceQL | median ms | matching traces | returned | check |")
        print("|---|---|---:|---:|---:|---|")
        for entry in searches:
            check = "error" if entry["error"] else ("**WRONG**" if entry["check"] else "right")
            print(f"| `{entry['name']}` | `{entry['traceql']}` | {_num(entry.get('median_ms'))} |"
                  f" {entry['matches']:,} | {entry['returned']} | {check} |")
        for entry in searches:
            if entry["error"] or entry["check"]:
                print(f"\n- {entry['name']}: {entry['error'] or entry['check']}")
        print()
    print("### Goals")
    print()
    print("| goal | target | measured | result |")
    print("|---|---|---:|---|")
    for entry in report["goals"]:
        result = "not measured" if entry["passed"] is None else ("met" if entry["passed"] else "**missed**")
        digits = 4 if "bytes" in entry["goal"] else 1
        print(f"| {entry['goal']} | {entry['target']} | {_num(entry['measured'], digits)} | {result} |")
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=5_000_000, help="spans to generate (default 5,000,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--spans-per-second", type=int, default=5_000,
                        help="traffic of the simulated shop; the time range is spans / this (default 5,000)")
    parser.add_argument("--concurrency", type=int, default=4, help="replay requests in flight (default 4)")
    parser.add_argument("--by-id", type=int, default=1000, help="trace ids looked up (default 1000, at most 2000)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per search (default 5)")
    parser.add_argument("--limit", type=int, default=20, help="search limit (default 20, as Grafana)")
    parser.add_argument("--timeout", type=float, default=QUERY_TIMEOUT_S, help="seconds allowed per query request")
    parser.add_argument("--workdir", type=Path, help="where the workload and data go (default: a new temp dir)")
    parser.add_argument("--workload", type=Path, help="reuse a workload generated earlier (a directory with"
                        " manifest.json; kept)")
    parser.add_argument("--keep", action="store_true", help="keep the workload and the data directory")
    parser.add_argument("--no-build", action="store_true", help=f"do not build {WORKLOAD_TOOL}")
    parser.add_argument("--no-queries", action="store_true", help="stop after the ingest and disk measurements")
    parser.add_argument("--no-zstd", action="store_true", help="skip the zstd baseline")
    parser.add_argument("--results-json", type=Path, help="also write every measurement to this JSON file")
    parser.add_argument("--oxeye-bin", help="default: ${CARGO_TARGET_DIR:-~/.cache/oxeye-target}/release/oxeye")
    args = parser.parse_args()
    if args.spans < 10_000:
        parser.error("--spans must be at least 10000")
    if args.concurrency < 1 or args.runs < 1 or args.by_id < 1:
        parser.error("--concurrency, --runs and --by-id must be positive")

    binary = Path(args.oxeye_bin or target_dir() / "release" / "oxeye")
    if not binary.is_file():
        log(f"{binary} not found; build it: cargo build --release -p oxeye")
        return 1
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="oxeye-bench-traces-"))
    workdir.mkdir(parents=True, exist_ok=True)
    log(f"working directory {workdir}")
    oxeye_dir = workdir / "oxeye"
    workload = args.workload or workdir / "workload"
    failed = False
    try:
        if args.workload:
            manifest = load_manifest(workload)
            log(f"reusing the workload in {workload} ({manifest['spans']:,} spans)")
        else:
            tool = build_workload_tool(args.no_build)
            manifest = generate_workload(tool, workload, args)
        if oxeye_dir.exists():
            shutil.rmtree(oxeye_dir)
        oxeye_dir.mkdir()
        config_path = oxeye_dir / "oxeye.yaml"
        config_path.write_text(OXEYE_CONFIG)
        system = OxeyeTraces(name="oxeye", binary=binary, ready_path="/ready", write_path="/v1/traces",
                             flush=("POST", "/api/v1/admin/flush"), disk_notes="", config_path=config_path)
        try:
            measured = measure(system, workload, manifest, oxeye_dir, args)
        except (RuntimeError, OSError, ValueError) as error:
            log(f"FAILED: {error}")
            measured = {"error": str(error)}
            failed = True
        zstd: dict = {"error": "skipped (--no-zstd)"}
        if not args.no_zstd:
            log("zstd -3 -T1 of the request bodies")
            zstd = run_zstd(workload, manifest)
        report = build_report(manifest, measured, zstd)
        report["args"] = {key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()}
        report["oxeye_bin"] = str(binary)
        print_report(report)
        by_id = (measured.get("by_id") or {}).get("json") or {}
        failed = failed or bool(by_id.get("error_count") or by_id.get("wrong_count"))
        failed = failed or any(entry["error"] or entry["check"] for entry in measured.get("searches") or [])
        if args.results_json:
            args.results_json.write_text(json.dumps(report, indent=2) + "\n")
            log(f"results written to {args.results_json}")
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(oxeye_dir, ignore_errors=True)
            if not args.workload:
                shutil.rmtree(workload, ignore_errors=True)
            if args.workdir is None:
                shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
