"""Fixtures of the end-to-end suite: `oxeye serve` (and Prometheus) on free 127.0.0.1 ports in a temporary
directory, each stopped by PID when the test ends.

The binary is `$OXEYE_BIN`, else `${CARGO_TARGET_DIR:-$HOME/.cache/oxeye-target}/debug/oxeye`; build it first with
`cargo build -p oxeye`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from managed_process import ManagedProcess, free_port
from oxeye_server import OxeyeServer, oxeye_binary

# Every server is local: keep proxy settings of the environment away from urllib, gRPC and requests.
for _variable in ("NO_PROXY", "no_proxy"):
    os.environ[_variable] = "127.0.0.1,localhost"
for _variable in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "grpc_proxy", "all_proxy", "ALL_PROXY"):
    os.environ.pop(_variable, None)


def _call_failed(request) -> bool:
    report = getattr(request.node, "rep_call", None)
    return bool(report and report.failed)


@pytest.fixture(scope="session")
def oxeye_bin() -> Path:
    binary = oxeye_binary()
    if not binary.is_file() or not os.access(binary, os.X_OK):
        pytest.fail(f"oxeye binary not found at {binary}: run `cargo build -p oxeye` or set OXEYE_BIN")
    return binary


@pytest.fixture
def oxeye_factory(oxeye_bin, tmp_path, request):
    """`start(args=[], config=None, data_dir=None, name=…)` → a running `OxeyeServer`; all are stopped afterwards."""
    servers: list[OxeyeServer] = []

    def start(args: list[str] | None = None, config: dict | None = None, data_dir: Path | None = None,
              name: str | None = None) -> OxeyeServer:
        workdir = tmp_path / (name or f"oxeye-{len(servers)}")
        workdir.mkdir(parents=True, exist_ok=True)
        server = OxeyeServer(oxeye_bin, workdir, data_dir or workdir / "data", args or [], config)
        servers.append(server)
        server.start()
        return server

    def stop_all():
        for server in servers:
            server.stop()
            if _call_failed(request):
                print(f"\n--- {server.workdir.name} log tail ---\n{server.log_tail(60)}")

    request.addfinalizer(stop_all)
    return start


@pytest.fixture
def oxeye(oxeye_factory) -> OxeyeServer:
    """One oxeye with default settings."""
    return oxeye_factory()


@pytest.fixture
def prometheus_factory(tmp_path, request):
    """`start(make_args, log_name)` → `(process, port)`: Prometheus listening on a free port, `make_args(port)`
    giving its flags; retried on a fresh port if the first was taken meanwhile. All are stopped afterwards."""
    binary = os.environ.get("PROMETHEUS_BIN") or shutil.which("prometheus") or "/usr/bin/prometheus"
    if not os.access(binary, os.X_OK):
        pytest.fail(f"prometheus not found at {binary}: run scripts/install-test-deps.sh")
    processes: list[ManagedProcess] = []

    def start(make_args: Callable[[int], list[str]], log_name: str = "prometheus") -> tuple[ManagedProcess, int]:
        last_error: Exception | None = None
        for _ in range(3):
            port = free_port()
            process = ManagedProcess(log_name, tmp_path / f"{log_name}.log")
            processes.append(process)
            process.spawn([binary, *make_args(port)])
            try:
                process.wait_until_ready(f"http://127.0.0.1:{port}/-/ready", timeout=30)
                return process, port
            except RuntimeError as error:
                last_error = error
                process.kill()
        raise RuntimeError(f"prometheus did not start: {last_error}")

    def stop_all():
        for process in processes:
            process.stop()
            if _call_failed(request):
                print(f"\n--- {process.name} (pid {process.pid}) log tail ---\n{process.log_tail(30)}")

    request.addfinalizer(stop_all)
    return start


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keeps each phase's report on the item so that finalizers can print server logs of failed tests."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
