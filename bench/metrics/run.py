#!/usr/bin/env python3
"""Side-by-side metrics ingest benchmark: oxeye against Prometheus and VictoriaMetrics.

Generates one reproducible remote_write workload (bench/metrics-workload), then for each system in turn: starts
it on 127.0.0.1 with an empty data directory, replays the identical request bodies to it, flushes it, stops it
gracefully and measures it. Prints samples/s, server CPU seconds per million samples, peak RSS, bytes per
sample on disk, and the ratios oxeye/peer. See bench/README.md.

Python 3.11 standard library only. Only processes started here are signalled, by PID; every wait is bounded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WORKLOAD_CRATE = "oxeye-bench-metrics-workload"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PROMETHEUS_BLOCK_SECONDS = 2 * 3600
SYSTEMS = ("oxeye", "prometheus", "victoria-metrics")

READY_TIMEOUT_S = 120
FLUSH_TIMEOUT_S = 1800
STOP_TIMEOUT_S = 180
QUIESCE_MAX_S = 120
QUIESCE_WINDOW_S = 2.0
QUIESCE_CORES = 0.05


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_duration(text: str) -> int:
    """Seconds in a Prometheus-style duration such as 15s, 2h or 3h15m."""
    parts = re.fullmatch(r"((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?", text.strip())
    if not text.strip() or not parts:
        raise argparse.ArgumentTypeError(f"bad duration {text!r} (use e.g. 15s, 90m, 3h15m)")
    days, hours, minutes, seconds = (int(parts.group(i) or 0) for i in (2, 4, 6, 8))
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_request(url: str, method: str = "GET", timeout: float = 10.0, limit: int | None = 4096) -> tuple[int, str]:
    """Status and (the first `limit` bytes of) the body; an HTTP error status is returned, not raised."""
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read(limit).decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read(4096).decode(errors="replace")


# --- the systems under test -------------------------------------------------------------------------------------


@dataclass
class SystemUnderTest:
    """How to start one system and talk to it. `command(data_dir, port, workdir)` builds its argv."""

    name: str
    binary: Path
    ready_path: str
    write_path: str
    flush: tuple[str, str] | None  # (HTTP method, path), or None when the system has no flush
    disk_notes: str
    # Extra, optional compaction after the flush (VictoriaMetrics's force merge); its CPU is reported separately.
    compact: tuple[str, str] | None = None
    # Gauges on /metrics that must all be 0 before the server counts as idle (background merges in progress).
    busy_gauges: tuple[str, ...] = ()

    def command(self, data_dir: Path, port: int, workdir: Path) -> list[str]:
        if self.name == "oxeye":
            return [
                str(self.binary), "serve",
                "--data-dir", str(data_dir),
                "--listen", f"127.0.0.1:{port}",
                "--otlp-grpc-listen", f"127.0.0.1:{free_port()}",
                "--otlp-http-listen", f"127.0.0.1:{free_port()}",
            ]
        if self.name == "prometheus":
            config = workdir / "prometheus.yml"
            # No scrape jobs: everything arrives by remote write.
            config.write_text("global:\n  scrape_interval: 15s\nscrape_configs: []\n")
            return [
                str(self.binary),
                f"--config.file={config}",
                f"--storage.tsdb.path={data_dir}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--web.enable-remote-write-receiver",
            ]
        if self.name == "victoria-metrics":
            return [
                str(self.binary),
                f"-storageDataPath={data_dir}",
                f"-httpListenAddr=127.0.0.1:{port}",
                "-retentionPeriod=1y",
            ]
        raise ValueError(self.name)


def systems_under_test(args: argparse.Namespace) -> dict[str, SystemUnderTest]:
    target_dir = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/oxeye-target"))
    return {
        "oxeye": SystemUnderTest(
            name="oxeye",
            binary=Path(args.oxeye_bin or target_dir / "release/oxeye"),
            ready_path="/ready",
            write_path="/api/v1/write",
            flush=("POST", "/api/v1/admin/flush"),
            disk_notes=(
                "after POST /api/v1/admin/flush, which cuts the in-memory head into on-disk blocks and compacts"
                " them; whatever else oxeye keeps in its data directory (e.g. a WAL not yet truncated) is listed above"
            ),
        ),
        "prometheus": SystemUnderTest(
            name="prometheus",
            binary=Path(args.prometheus_bin or shutil.which("prometheus") or "/usr/bin/prometheus"),
            ready_path="/-/ready",
            write_path="/api/v1/write",
            flush=None,
            disk_notes=(
                "Prometheus has no flush API: its head is cut into a 2h block only once it spans more than 3h, so"
                " the total is compacted blocks + wal (snappy-compressed records, kept for everything still in the"
                " head) + chunks_head (memory-mapped head chunks); 'blocks only' is its compressed block format"
                " alone, the fair figure for long-term storage"
            ),
        ),
        "victoria-metrics": SystemUnderTest(
            name="victoria-metrics",
            binary=Path(args.victoria_metrics_bin or shutil.which("victoria-metrics") or "/usr/bin/victoria-metrics"),
            ready_path="/health",
            write_path="/api/v1/write",
            flush=("GET", "/internal/force_flush"),
            compact=None if args.no_vm_force_merge else ("GET", "/internal/force_merge"),
            busy_gauges=("vm_active_merges", "vm_active_force_merges"),
            disk_notes=(
                "after /internal/force_flush (in-memory parts written to disk), background merges settling and"
                " (unless --no-vm-force-merge) /internal/force_merge, its full compaction of the partition:"
                " data/ (compressed parts) + indexdb/ (inverted index) + cache/ (caches persisted at shutdown);"
                " VictoriaMetrics has no WAL"
            ),
        ),
    }


# --- one server process ------------------------------------------------------------------------------------------


class Server:
    """A server process started by this script, with the /proc readings the benchmark needs."""

    def __init__(self, system: SystemUnderTest, workdir: Path):
        self.system = system
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "server.log"
        self.process: subprocess.Popen | None = None
        self.final_rusage: resource.struct_rusage | None = None
        self.killed = False

    def start(self) -> None:
        self.data_dir.mkdir(parents=True)
        argv = self.system.command(self.data_dir, self.port, self.workdir)
        (self.workdir / "command.txt").write_text(" ".join(argv) + "\n")
        with open(self.log_path, "wb") as log_file:
            self.process = subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def exited(self) -> bool:
        return self.final_rusage is not None or (self.process is not None and self.process.poll() is not None)

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self) -> float:
        started = time.monotonic()
        deadline = started + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.exited():
                raise RuntimeError(f"{self.system.name} exited during start-up:\n{self.log_tail()}")
            try:
                status, _ = http_request(self.base_url + self.system.ready_path, timeout=2)
                if 200 <= status < 300:
                    return time.monotonic() - started
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.system.name} not ready after {READY_TIMEOUT_S} s:\n{self.log_tail()}")

    def cpu_seconds(self) -> float:
        """utime + stime of the server process (threads included) from /proc/PID/stat."""
        stat = Path(f"/proc/{self.pid()}/stat").read_text()
        # Fields after the parenthesised command name; utime and stime are fields 14 and 15.
        fields = stat[stat.rindex(")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def peak_rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.pid()}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return 0

    def quiesce(self, max_seconds: float = QUIESCE_MAX_S) -> float:
        """Waits (bounded) until background work (merges, compaction) stops using CPU and the system's busy gauges
        are all 0; returns seconds waited."""
        started = time.monotonic()
        while time.monotonic() - started < max_seconds:
            before = self.cpu_seconds()
            time.sleep(QUIESCE_WINDOW_S)
            if (self.cpu_seconds() - before) / QUIESCE_WINDOW_S < QUIESCE_CORES and not self.busy():
                break
        return time.monotonic() - started

    def busy(self) -> bool:
        """Whether any of the system's busy gauges on /metrics is non-zero."""
        if not self.system.busy_gauges:
            return False
        try:
            _, text = http_request(self.base_url + "/metrics", timeout=10, limit=None)
        except OSError:
            return False
        for line in text.splitlines():
            name = line.split("{", 1)[0].split(" ", 1)[0]
            if name in self.system.busy_gauges and float(line.rsplit(" ", 1)[1]) != 0:
                return True
        return False

    def stop(self) -> None:
        """SIGTERM, then wait (bounded) and collect the process's final rusage; SIGKILL if it does not exit."""
        if self.process is None or self.final_rusage is not None:
            return
        pid = self.process.pid
        if self.process.returncode is None:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while True:
            try:
                waited_pid, status, usage = os.wait4(pid, os.WNOHANG)
            except ChildProcessError:
                return
            if waited_pid == pid:
                self.final_rusage = usage
                self.process.returncode = os.waitstatus_to_exitcode(status)
                return
            if time.monotonic() > deadline and not self.killed:
                log(f"{self.system.name} did not stop within {STOP_TIMEOUT_S} s; sending SIGKILL to {pid}")
                os.kill(pid, signal.SIGKILL)
                self.killed = True
            time.sleep(0.1)


# --- disk usage --------------------------------------------------------------------------------------------------


@dataclass
class DiskUsage:
    total_bytes: int = 0
    allocated_bytes: int = 0
    by_part: dict[str, int] = field(default_factory=dict)
    # Prometheus-style blocks (a directory with a meta.json giving stats.numSamples), as Prometheus and oxeye write.
    blocks: int = 0
    block_bytes: int = 0
    block_samples: int = 0


# Directory names that say what their files are, whatever their depth.
KNOWN_PARTS = ("wal", "chunks_head", "blocks", "indexdb", "cache")


def block_samples(directory: Path) -> int | None:
    """numSamples from a Prometheus-style block's meta.json, or None if `directory` is not such a block."""
    try:
        meta = json.loads((directory / "meta.json").read_text())
        return int(meta["stats"]["numSamples"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def measure_disk(data_dir: Path) -> DiskUsage:
    """Sizes of all regular files under `data_dir` (symlinks not followed), grouped by what they are."""
    usage = DiskUsage()
    block_dirs: dict[Path, int] = {}
    for root, _dirs, files in os.walk(data_dir):
        if "meta.json" in files and (samples := block_samples(Path(root))) is not None:
            block_dirs[Path(root)] = samples
    for root, _dirs, files in os.walk(data_dir):
        root_path = Path(root)
        relative = root_path.relative_to(data_dir).parts
        block = next((ancestor for ancestor in [root_path, *root_path.parents] if ancestor in block_dirs), None)
        known = [part for part in relative if part in KNOWN_PARTS]
        if block is not None:
            part = "blocks"
        elif known:
            part = known[-1]
        elif relative:
            part = relative[0]
        else:
            part = "other files"
        for name in files:
            path = root_path / name
            if path.is_symlink():
                continue
            info = path.lstat()
            usage.total_bytes += info.st_size
            usage.allocated_bytes += info.st_blocks * 512
            usage.by_part[part] = usage.by_part.get(part, 0) + info.st_size
            if block is not None:
                usage.block_bytes += info.st_size
    usage.blocks = len(block_dirs)
    usage.block_samples = sum(block_dirs.values())
    return usage


# --- one measurement ---------------------------------------------------------------------------------------------


@dataclass
class Measurement:
    system: str
    ok: bool = False
    error: str = ""
    ready_seconds: float = 0.0
    samples: int = 0
    replay: dict = field(default_factory=dict)
    client_cpu_seconds: float = 0.0
    cpu_ingest_seconds: float = 0.0
    cpu_flush_seconds: float = 0.0
    cpu_shutdown_seconds: float = 0.0
    cpu_compact_seconds: float = 0.0
    compact_status: str = ""
    compact_seconds: float = 0.0
    flush_seconds: float = 0.0
    flush_status: str = ""
    quiesce_seconds: float = 0.0
    stop_seconds: float = 0.0
    peak_rss_bytes: int = 0
    disk: DiskUsage = field(default_factory=DiskUsage)

    @property
    def samples_per_second(self) -> float:
        return self.replay.get("samples_per_second", 0.0)

    @property
    def cpu_per_million(self) -> float:
        return (self.cpu_ingest_seconds + self.cpu_flush_seconds) / self.samples * 1e6 if self.samples else 0.0

    @property
    def peak_rss_mib(self) -> float:
        return self.peak_rss_bytes / 2**20

    @property
    def bytes_per_sample(self) -> float:
        return self.disk.total_bytes / self.samples if self.samples else 0.0


def measure(system: SystemUnderTest, workload_bin: Path, workload: Path, manifest: dict, workdir: Path,
            concurrency: int) -> Measurement:
    result = Measurement(system=system.name, samples=manifest["samples"])
    server = Server(system, workdir)
    try:
        log(f"{system.name}: starting {system.binary} on {server.base_url}")
        server.start()
        result.ready_seconds = server.wait_ready()
        time.sleep(1.0)
        cpu_ready = server.cpu_seconds()

        result_json = workdir / "replay.json"
        client_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        replay_timeout = max(1800, manifest["samples"] / 20_000)
        log(f"{system.name}: replaying {manifest['samples']:,} samples")
        exit_code, stderr_tail = run_forwarding_stderr(
            [str(workload_bin), "replay", "--workload", str(workload), "--url", server.base_url + system.write_path,
             "--concurrency", str(concurrency), "--result-json", str(result_json)],
            timeout_s=replay_timeout,
        )
        client_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        result.client_cpu_seconds = (client_after.ru_utime + client_after.ru_stime
                                     - client_before.ru_utime - client_before.ru_stime)
        if exit_code != 0:
            raise RuntimeError(f"replay to {system.name} failed (exit {exit_code}):\n{stderr_tail}\n"
                               f"server log:\n{server.log_tail()}")
        result.replay = json.loads(result_json.read_text())
        cpu_replayed = server.cpu_seconds()
        result.cpu_ingest_seconds = cpu_replayed - cpu_ready
        log(f"{system.name}: {result.samples_per_second:,.0f} samples/s")

        if system.flush is not None:
            method, path = system.flush
            flush_started = time.monotonic()
            status, body = http_request(server.base_url + path, method=method, timeout=FLUSH_TIMEOUT_S)
            result.flush_seconds = time.monotonic() - flush_started
            result.flush_status = f"{method} {path} -> {status}"
            if not 200 <= status < 300:
                raise RuntimeError(f"{system.name} flush {method} {path} answered {status}: {body.strip()[:500]}")
        result.quiesce_seconds = server.quiesce()
        cpu_flushed = server.cpu_seconds()
        result.cpu_flush_seconds = cpu_flushed - cpu_replayed
        result.peak_rss_bytes = server.peak_rss_bytes()

        if system.compact is not None:
            method, path = system.compact
            compact_started = time.monotonic()
            status, body = http_request(server.base_url + path, method=method, timeout=FLUSH_TIMEOUT_S)
            result.compact_status = f"{method} {path} -> {status}"
            if not 200 <= status < 300:
                raise RuntimeError(f"{system.name} {method} {path} answered {status}: {body.strip()[:500]}")
            server.quiesce(max_seconds=FLUSH_TIMEOUT_S)
            result.compact_seconds = time.monotonic() - compact_started
            cpu_compacted = server.cpu_seconds()
            result.cpu_compact_seconds = cpu_compacted - cpu_flushed
            cpu_flushed = cpu_compacted

        stop_started = time.monotonic()
        server.stop()
        result.stop_seconds = time.monotonic() - stop_started
        if server.final_rusage is not None:
            total_cpu = server.final_rusage.ru_utime + server.final_rusage.ru_stime
            result.cpu_shutdown_seconds = max(0.0, total_cpu - cpu_flushed)
            result.peak_rss_bytes = max(result.peak_rss_bytes, server.final_rusage.ru_maxrss * 1024)
        if server.killed:
            raise RuntimeError(f"{system.name} had to be killed (SIGKILL) after SIGTERM; disk state may be partial")
        result.disk = measure_disk(server.data_dir)
        result.ok = True
    except (RuntimeError, OSError, subprocess.TimeoutExpired, ValueError) as error:
        result.error = str(error)
        log(f"{system.name}: FAILED: {error}")
    finally:
        server.stop()
    return result


def run_forwarding_stderr(argv: list[str], timeout_s: float) -> tuple[int, str]:
    """Runs `argv`, copying its stderr to ours as it comes; kills it after `timeout_s`. Returns the exit code
    and the last lines of its stderr."""
    process = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(timeout_s, process.kill)
    watchdog.start()
    tail: list[str] = []
    try:
        assert process.stderr is not None
        for line in process.stderr:
            print(f"    {line}", end="", file=sys.stderr, flush=True)
            tail = (tail + [line.rstrip()])[-10:]
        exit_code = process.wait()
    finally:
        watchdog.cancel()
    if exit_code < 0:
        tail.append(f"killed by signal {-exit_code} (timeout {timeout_s:.0f} s?)")
    return exit_code, "\n".join(tail)


# --- report ------------------------------------------------------------------------------------------------------


def ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}" if numerator and denominator else "-"


def print_report(manifest: dict, results: list[Measurement], notes: dict[str, str]) -> None:
    start = dt.datetime.fromtimestamp(manifest["start_ms"] / 1000, dt.timezone.utc)
    end = dt.datetime.fromtimestamp(manifest["end_ms"] / 1000, dt.timezone.utc)
    print()
    print(
        f"workload: {manifest['series']:,} active series ({manifest['hosts']} hosts), {manifest['steps']} steps of"
        f" {manifest['interval_ms'] / 1000:g} s = {manifest['samples']:,} samples,"
        f" {start:%Y-%m-%d %H:%M}..{end:%H:%M} UTC; {manifest['bodies']:,} remote_write bodies,"
        f" {manifest['compressed_bytes'] / 2**20:,.0f} MiB snappy ({manifest['compressed_bytes'] / manifest['samples']:.1f}"
        f" B/sample on the wire); {manifest['host_reboots']} host reboots, {manifest['app_restarts']} app restarts"
    )
    print()
    header = f"{'system':<24}{'samples/s':>14}{'CPU s/M samples':>17}{'peak RSS MiB':>14}{'bytes/sample':>14}"
    print(header)
    print("-" * len(header))
    by_name = {result.system: result for result in results}
    for result in results:
        if not result.ok:
            print(f"{result.system:<24}  FAILED: {result.error.splitlines()[0] if result.error else ''}")
            continue
        print(f"{result.system:<24}{result.samples_per_second:>14,.0f}{result.cpu_per_million:>17.3f}"
              f"{result.peak_rss_mib:>14.1f}{result.bytes_per_sample:>14.3f}")
    oxeye = by_name.get("oxeye")
    for peer in ("prometheus", "victoria-metrics"):
        other = by_name.get(peer)
        if oxeye is None or other is None or not (oxeye.ok and other.ok):
            continue
        print(f"{'oxeye/' + peer:<24}{ratio(oxeye.samples_per_second, other.samples_per_second):>14}"
              f"{ratio(oxeye.cpu_per_million, other.cpu_per_million):>17}"
              f"{ratio(oxeye.peak_rss_mib, other.peak_rss_mib):>14}"
              f"{ratio(oxeye.bytes_per_sample, other.bytes_per_sample):>14}")
    prometheus = by_name.get("prometheus")
    if oxeye and prometheus and oxeye.ok and prometheus.ok and oxeye.disk.block_samples and prometheus.disk.block_samples:
        oxeye_blocks = oxeye.disk.block_bytes / oxeye.disk.block_samples
        prometheus_blocks = prometheus.disk.block_bytes / prometheus.disk.block_samples
        print(f"{'oxeye/prometheus, blocks only':<59}{ratio(oxeye_blocks, prometheus_blocks):>14}"
              f"  ({oxeye_blocks:.3f} / {prometheus_blocks:.3f} bytes/sample)")
    print()
    print("samples/s: replayed samples / replay wall time (higher is better; the replay client shares the machine).")
    print("CPU s/M samples: server utime+stime from ready to flushed and settled, per million samples.")
    print("peak RSS: the server's VmHWM (and its rusage maxrss at exit). bytes/sample: all files in the data")
    print("directory after a graceful stop / samples sent. Ratios oxeye/peer: <1 is better except for samples/s.")
    print()
    print("details:")
    for result in results:
        if not result.ok:
            print(f"  {result.system}: FAILED\n    " + result.error.replace("\n", "\n    "))
            continue
        replay = result.replay
        print(f"  {result.system}: ready in {result.ready_seconds:.1f} s; replay {replay['wall_seconds']:.1f} s,"
              f" request p50 {replay['request_latency_p50_ms']:.1f} ms / p99 {replay['request_latency_p99_ms']:.1f} ms;"
              f" replay client CPU {result.client_cpu_seconds:.1f} s")
        print(f"    server CPU: {result.cpu_ingest_seconds:.1f} s during replay, {result.cpu_flush_seconds:.1f} s"
              f" flush+settle ({result.flush_status or 'no flush'}, {result.flush_seconds:.1f} s; settled after"
              f" {result.quiesce_seconds:.1f} s), {result.cpu_shutdown_seconds:.1f} s during shutdown (not counted)")
        parts = ", ".join(f"{name} {size / 2**20:,.1f} MiB" for name, size in
                          sorted(result.disk.by_part.items(), key=lambda item: -item[1]))
        print(f"    disk: {result.disk.total_bytes / 2**20:,.1f} MiB ({result.disk.allocated_bytes / 2**20:,.1f} MiB"
              f" allocated): {parts}")
        if result.compact_status:
            print(f"    compaction: {result.compact_status}, {result.compact_seconds:.1f} s until merges finished,"
                  f" {result.cpu_compact_seconds:.1f} s of CPU (not counted in CPU s/M samples)")
        cache_bytes = result.disk.by_part.get("cache", 0)
        if result.system == "victoria-metrics" and cache_bytes:
            print(f"    without cache/ (in-memory caches saved at shutdown, rebuilt if missing):"
                  f" {(result.disk.total_bytes - cache_bytes) / result.samples:.3f} bytes/sample")
        disk = result.disk
        if disk.block_samples:
            block_bytes_per_sample = disk.block_bytes / disk.block_samples
            print(f"    blocks only: {disk.blocks} block(s), {disk.block_samples:,} samples"
                  f" ({disk.block_samples / result.samples:.0%} of all), {block_bytes_per_sample:.3f} bytes/sample")
        elif result.system == "prometheus":
            print("    blocks only: no block was cut (the head never spanned more than 3h): everything is WAL +"
                  " head chunks; use --duration 3h15m or more for a block")
        print(textwrap.fill(f"what the bytes are: {notes[result.system]}", 116, initial_indent="    ",
                            subsequent_indent="      "))


# --- main --------------------------------------------------------------------------------------------------------


def build_workload_tool(no_build: bool) -> Path:
    target_dir = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/oxeye-target"))
    binary = target_dir / "release" / WORKLOAD_CRATE
    if not no_build:
        log(f"building {WORKLOAD_CRATE} (cargo build --release)")
        env = dict(os.environ, CARGO_TARGET_DIR=str(target_dir))
        subprocess.run(["cargo", "build", "--release", "-p", WORKLOAD_CRATE], cwd=REPO, env=env, check=True,
                       timeout=1800)
    if not binary.is_file():
        sys.exit(f"{binary} not found; build it with: cargo build --release -p {WORKLOAD_CRATE}")
    return binary


def aligned_end_time(duration_s: int) -> int:
    """End time (Unix s) such that the data starts on a 2h boundary: Prometheus aligns its blocks to 2h, so a
    run of 3h or more then yields one full 2h block, and the comparison does not depend on the hour of the run.
    The data ends at most 2h before now."""
    now = int(time.time())
    start = (now - duration_s) // PROMETHEUS_BLOCK_SECONDS * PROMETHEUS_BLOCK_SECONDS
    return start + duration_s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", default=",".join(SYSTEMS),
                        help=f"comma-separated subset of {', '.join(SYSTEMS)} (default: all)")
    parser.add_argument("--hosts", type=int, default=260, help="fleet size, ~400 series per host (default 260:"
                        " over 100k active series)")
    parser.add_argument("--duration", type=parse_duration, default=parse_duration("3h15m"),
                        help="time range of the workload (default 3h15m: Prometheus cuts one full 2h block)")
    parser.add_argument("--interval", default="15s", help="scrape interval (default 15s)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight per step (default 4)")
    parser.add_argument("--workdir", type=Path, help="where workload and data dirs go (default: a new temp dir)")
    parser.add_argument("--workload", type=Path, help="reuse a workload generated earlier (its manifest.json dir)")
    parser.add_argument("--keep", action="store_true", help="keep the workload and data directories")
    parser.add_argument("--no-align", action="store_true",
                        help="end the data at now instead of starting it on a 2h boundary")
    parser.add_argument("--no-vm-force-merge", action="store_true",
                        help="measure VictoriaMetrics's disk without calling /internal/force_merge first")
    parser.add_argument("--no-build", action="store_true", help="do not run cargo build for the workload tool")
    parser.add_argument("--results-json", type=Path, help="also write all measurements to this JSON file")
    parser.add_argument("--oxeye-bin", help="default: $CARGO_TARGET_DIR/release/oxeye")
    parser.add_argument("--prometheus-bin", help="default: prometheus on PATH")
    parser.add_argument("--victoria-metrics-bin", help="default: victoria-metrics on PATH")
    args = parser.parse_args()

    wanted = [name.strip() for name in args.systems.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in SYSTEMS]
    if unknown or not wanted:
        parser.error(f"unknown system(s) {unknown}; choose from {', '.join(SYSTEMS)}")
    available = systems_under_test(args)
    missing = [name for name in wanted if not available[name].binary.is_file()]
    for name in missing:
        log(f"SKIPPING {name}: {available[name].binary} not found"
            + (" (build it: cargo build --release -p oxeye)" if name == "oxeye" else
               " (install it: bench/install-peers.sh)"))
    to_run = [available[name] for name in wanted if name not in missing]
    if not to_run:
        return 1

    workload_bin = build_workload_tool(args.no_build)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="oxeye-bench-metrics-"))
    workdir.mkdir(parents=True, exist_ok=True)
    log(f"working directory {workdir}")
    results: list[Measurement] = []
    try:
        if args.workload:
            workload = args.workload
            log(f"reusing the workload in {workload}")
        else:
            workload = workdir / "workload"
            end_time = str(int(time.time())) if args.no_align else str(aligned_end_time(args.duration))
            log(f"generating {args.hosts} hosts x {args.duration} s into {workload}")
            subprocess.run(
                [str(workload_bin), "generate", "--hosts", str(args.hosts), "--duration", f"{args.duration}s",
                 "--interval", args.interval, "--seed", str(args.seed), "--end-time", end_time,
                 "--out", str(workload), "--overwrite"],
                check=True, timeout=3600,
            )
        manifest = json.loads((workload / "manifest.json").read_text())
        age_hours = (time.time() - manifest["end_ms"] / 1000) / 3600
        if age_hours > 3:
            log(f"warning: the workload ends {age_hours:.1f} h ago; systems may treat its samples as old")
        for system in to_run:
            system_dir = workdir / system.name
            if system_dir.exists():
                shutil.rmtree(system_dir)
            system_dir.mkdir()
            results.append(measure(system, workload_bin, workload, manifest, system_dir, args.concurrency))
            if not args.keep:
                shutil.rmtree(system_dir / "data", ignore_errors=True)
        print_report(manifest, results, {name: system.disk_notes for name, system in available.items()})
        if args.results_json:
            args.results_json.write_text(json.dumps(
                {"manifest": {key: value for key, value in manifest.items() if key != "files"},
                 "results": [result_as_dict(result) for result in results]}, indent=2))
    finally:
        if args.keep:
            log(f"kept {workdir}")
        elif args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
        elif not args.workload:
            shutil.rmtree(workdir / "workload", ignore_errors=True)
    failed = [result.system for result in results if not result.ok]
    return 1 if failed or missing else 0


def result_as_dict(result: Measurement) -> dict:
    return {
        "system": result.system, "ok": result.ok, "error": result.error,
        "samples": result.samples, "samples_per_second": result.samples_per_second,
        "cpu_seconds_per_million_samples": result.cpu_per_million, "peak_rss_bytes": result.peak_rss_bytes,
        "bytes_per_sample": result.bytes_per_sample, "disk_bytes": result.disk.total_bytes,
        "disk_by_part": result.disk.by_part, "cpu_ingest_seconds": result.cpu_ingest_seconds,
        "cpu_flush_seconds": result.cpu_flush_seconds, "cpu_compact_seconds": result.cpu_compact_seconds,
        "compact_seconds": result.compact_seconds, "cpu_shutdown_seconds": result.cpu_shutdown_seconds,
        "client_cpu_seconds": result.client_cpu_seconds, "replay": result.replay,
        "block_bytes": result.disk.block_bytes, "block_samples": result.disk.block_samples,
    }


if __name__ == "__main__":
    sys.exit(main())
