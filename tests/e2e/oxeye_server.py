"""An `oxeye serve` process on free 127.0.0.1 ports and a client for its HTTP API.

Read results are returned in comparable forms: a series is a `frozenset` of `(name, value)` label pairs, and
`export` maps each series to its list of `(timestamp_ms, value)` samples.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from pathlib import Path

import http_client
from managed_process import ManagedProcess, free_port

TENANT_HEADER = "X-Scope-OrgID"

Series = frozenset  # frozenset[tuple[str, str]]


def oxeye_binary() -> Path:
    """`$OXEYE_BIN`, else `${CARGO_TARGET_DIR:-$HOME/.cache/oxeye-target}/debug/oxeye`."""
    explicit = os.environ.get("OXEYE_BIN")
    if explicit:
        return Path(explicit)
    target_dir = os.environ.get("CARGO_TARGET_DIR") or os.path.expanduser("~/.cache/oxeye-target")
    return Path(target_dir) / "debug" / "oxeye"


def series_key(labels: dict[str, str]) -> Series:
    return frozenset(labels.items())


def render_series(series: Series) -> str:
    labels = dict(series)
    name = labels.pop("__name__", "")
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def now_ms() -> int:
    return int(time.time() * 1000)


class OxeyeServer(ManagedProcess):
    """`oxeye serve` with its data dir, extra flags and optional YAML config (written as JSON, which is YAML)."""

    def __init__(self, binary: Path, workdir: Path, data_dir: Path, args: list[str], config: dict | None):
        super().__init__("oxeye", workdir / "oxeye.log")
        self.binary = binary
        self.workdir = workdir
        self.data_dir = data_dir
        self.extra_args = list(args)
        self.config_path: Path | None = None
        if config is not None:
            self.config_path = workdir / "oxeye.yaml"
            self.config_path.write_text(json.dumps(config, indent=2))
        self.port = self.grpc_port = self.otlp_http_port = 0

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self, args: list[str] | None = None, attempts: int = 3) -> None:
        """Starts on fresh free ports (retrying if one was taken meanwhile) and waits for `/ready`."""
        if args is not None:
            self.extra_args = list(args)
        last_error: Exception | None = None
        for _ in range(attempts):
            self.port, self.grpc_port, self.otlp_http_port = free_port(), free_port(), free_port()
            argv = [
                str(self.binary), "serve",
                "--data-dir", str(self.data_dir),
                "--listen", f"127.0.0.1:{self.port}",
                "--otlp-grpc-listen", f"127.0.0.1:{self.grpc_port}",
                "--otlp-http-listen", f"127.0.0.1:{self.otlp_http_port}",
            ]
            if self.config_path is not None:
                argv += ["--config", str(self.config_path)]
            argv += self.extra_args
            env = {k: v for k, v in os.environ.items() if not k.startswith("OXEYE_")}
            self.spawn(argv, env=env)
            try:
                self.wait_until_ready(f"{self.url}/ready")
                return
            except RuntimeError as error:
                last_error = error
                self.kill()
        raise RuntimeError(f"oxeye did not start: {last_error}")

    def restart(self, args: list[str] | None = None) -> None:
        self.stop()
        self.start(args)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def otlp_http_url(self) -> str:
        return f"http://127.0.0.1:{self.otlp_http_port}"

    @property
    def grpc_endpoint(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    # -- raw requests ----------------------------------------------------------------------------------------

    @staticmethod
    def _headers(tenant: str | None, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = dict(extra or {})
        if tenant is not None:
            headers[TENANT_HEADER] = tenant
        return headers

    def get(self, path: str, params=None, tenant: str | None = None) -> http_client.HttpResponse:
        return http_client.get(self.url + path, params=params, headers=self._headers(tenant))

    def post(
        self, path: str, body: bytes, content_type: str, tenant: str | None = None, params=None,
        headers: dict[str, str] | None = None,
    ) -> http_client.HttpResponse:
        all_headers = self._headers(tenant, {"Content-Type": content_type, **(headers or {})})
        return http_client.post(self.url + path, body, params=params, headers=all_headers)

    def import_text(self, text: str, tenant: str | None = None, timestamp_ms: int | None = None):
        params = {"timestamp": str(timestamp_ms)} if timestamp_ms is not None else None
        return self.post("/api/v1/import/prometheus", text.encode(), "text/plain", tenant=tenant, params=params)

    def flush(self, tenant: str | None = None) -> None:
        response = self.post("/api/v1/admin/flush", b"", "text/plain", tenant=tenant)
        assert response.status == 204, f"flush: {response.status} {response.text}"

    # -- Prometheus-shaped reads -----------------------------------------------------------------------------

    def api_data(self, path: str, params=None, tenant: str | None = None):
        """GET a Prometheus API path, asserting `status: success`; returns `data`."""
        response = self.get(path, params=params, tenant=tenant)
        assert response.status == 200, f"GET {path} {params}: {response.status} {response.text}"
        payload = response.json()
        assert payload.get("status") == "success", payload
        return payload["data"]

    @staticmethod
    def _range_params(matchers: list[str], start: int | float | None, end: int | float | None):
        params = [("match[]", m) for m in matchers]
        if start is not None:
            params.append(("start", str(start)))
        if end is not None:
            params.append(("end", str(end)))
        return params

    def series(self, *matchers: str, tenant: str | None = None, start=None, end=None) -> set[Series]:
        data = self.api_data("/api/v1/series", self._range_params(list(matchers), start, end), tenant)
        result = {series_key(labels) for labels in data}
        assert len(result) == len(data), f"duplicate series in {data}"
        return result

    def labels(self, tenant: str | None = None, matchers: tuple[str, ...] = ()) -> list[str]:
        return self.api_data("/api/v1/labels", self._range_params(list(matchers), None, None), tenant)

    def label_values(self, name: str, tenant: str | None = None) -> list[str]:
        return self.api_data(f"/api/v1/label/{name}/values", None, tenant)

    def metadata(self, tenant: str | None = None) -> dict:
        return self.api_data("/api/v1/metadata", None, tenant)

    def export(self, *matchers: str, tenant: str | None = None, start=None, end=None) -> dict[Series, list]:
        """`/api/v1/export` as `{series: [(timestamp_ms, value), …]}`, checking each line's shape."""
        response = self.get("/api/v1/export", self._range_params(list(matchers), start, end), tenant)
        assert response.status == 200, f"export {matchers}: {response.status} {response.text}"
        result: dict[Series, list] = {}
        for line in response.text.splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            assert set(row) == {"metric", "values", "timestamps"}, row
            assert len(row["values"]) == len(row["timestamps"]), row
            assert row["timestamps"] == sorted(row["timestamps"]), f"unsorted timestamps: {row}"
            key = series_key(row["metric"])
            assert key not in result, f"series exported twice: {row['metric']}"
            result[key] = [(int(t), _as_float(v)) for t, v in zip(row["timestamps"], row["values"])]
        return result

    def self_metrics(self) -> dict[tuple[str, Series], float]:
        response = self.get("/metrics")
        assert response.status == 200, response.text
        return parse_exposition(response.text)


def _as_float(value) -> float:
    return float(value) if not isinstance(value, str) else float(value.replace("Inf", "inf"))


_SAMPLE_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$")
_LABEL_PAIR = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')


def parse_exposition(text: str) -> dict[tuple[str, Series], float]:
    """Prometheus text exposition → `{(metric_name, labels): value}` (comments skipped)."""
    samples: dict[tuple[str, Series], float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE_LINE.match(line)
        assert match, f"unparsable exposition line: {line!r}"
        name, _, label_text, value = match.group(1), match.group(2), match.group(3), match.group(4)
        labels = {}
        if label_text:
            for pair in _LABEL_PAIR.finditer(label_text):
                labels[pair.group(1)] = bytes(pair.group(2), "utf-8").decode("unicode_escape")
        samples[(name, frozenset(labels.items()))] = float(value)
    return samples


def metric_value(samples: dict[tuple[str, Series], float], name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels` (0 when there are none)."""
    wanted = set(labels.items())
    return sum(v for (n, l), v in samples.items() if n == name and wanted <= set(l))


def same_float(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))
