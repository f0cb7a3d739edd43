"""Trace durability and limits: acknowledged exports survive `kill -9` (with and without tail sampling, whose pending
spans live in its own WAL), a 30-minute trace of 10,000 spans loads by id and a larger one is truncated visibly, and
retention deletes expired trace blocks.
"""

from __future__ import annotations

import random
import threading
import time

import pytest

from tempo_client import now_ns, random_span_id, random_trace_id, send_spans, span_count, trace_v2, wait_for


class Exporter(threading.Thread):
    """Sends export i = 0, 1, …: one trace of 5 spans each; records which exports were acknowledged."""

    def __init__(self, oxeye, seed: int, stop: threading.Event):
        super().__init__(daemon=True)
        self.oxeye, self.stop = oxeye, stop
        self.rng = random.Random(seed)
        self.acknowledged: list[str] = []
        self.failures: list[str] = []
        self.start_ns = now_ns() - 60_000_000_000

    def run(self) -> None:
        for _ in range(20_000):
            if self.stop.is_set():
                return
            trace = random_trace_id(self.rng)
            root = random_span_id(self.rng)
            spans = [{"trace": trace, "span": root, "parent": "", "name": "root", "service": "crash",
                      "start_ns": self.start_ns, "end_ns": self.start_ns + 5_000_000, "error": True}]
            spans += [{"trace": trace, "span": random_span_id(self.rng), "parent": root, "name": f"child {k}",
                       "service": "crash", "start_ns": self.start_ns, "end_ns": self.start_ns + 1_000_000}
                      for k in range(4)]
            try:
                send_spans(self.oxeye, spans)
            except (OSError, AssertionError) as error:
                self.failures.append(str(error))
                return
            self.acknowledged.append(trace)


@pytest.mark.parametrize(
    ("config", "args"),
    [
        (None, []),
        ({"traces": {"head_max_bytes": 50_000}}, ["--maintenance-interval", "1s"]),
        ({"traces": {"sampling": {"enabled": True, "decision_wait": "30s", "base_rate": 0.0}}}, []),
    ],
    ids=["default", "blocks-cut-while-writing", "held-by-the-sampler"],
)
def test_acknowledged_spans_survive_kill_9(oxeye_factory, config, args):
    oxeye = oxeye_factory(args, config=config)
    stop = threading.Event()
    exporters = [Exporter(oxeye, seed, stop) for seed in (1, 2)]
    for exporter in exporters:
        exporter.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sum(len(e.acknowledged) for e in exporters) < 200:
        time.sleep(0.02)
    oxeye.kill()
    for exporter in exporters:
        exporter.join(timeout=30)
    stop.set()
    acknowledged = [t for e in exporters for t in e.acknowledged]
    assert len(acknowledged) >= 200, [e.failures for e in exporters]

    oxeye.start()
    if config and "sampling" in config["traces"]:
        # Every trace has an error span, so the sampler keeps each once its wait (counted from the restart) is over.
        wait_for(lambda: span_count(oxeye, acknowledged[-1]) == 5, timeout=60, what="the replayed sampler decisions")
    missing = [t for t in acknowledged if span_count(oxeye, t) != 5]
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged traces lost or incomplete, e.g. {missing[:3]}"


def test_a_long_trace_of_10000_spans_loads_and_a_larger_one_is_truncated_visibly(oxeye):
    rng = random.Random(3)
    trace = random_trace_id(rng)
    root = random_span_id(rng)
    start = now_ns() - 40 * 60 * 1_000_000_000
    thirty_minutes = 30 * 60 * 1_000_000_000
    spans = [{"trace": trace, "span": root, "parent": "", "name": "batch job", "service": "jobs",
              "start_ns": start, "end_ns": start + thirty_minutes}]
    for k in range(9_999):
        offset = k * (thirty_minutes // 10_000)
        spans.append({"trace": trace, "span": random_span_id(rng), "parent": root, "name": f"item {k % 7}",
                      "service": "jobs", "start_ns": start + offset, "end_ns": start + offset + 1_000_000})
    for first in range(0, len(spans), 1_000):
        response = send_spans(oxeye, spans[first:first + 1_000])
        assert not response.HasField("partial_success")
        if first == 5_000:
            oxeye.flush()  # half of the trace in a block, half in the head
    status, body = trace_v2(oxeye, trace)
    assert status == 200
    assert sum(len(s["spans"]) for g in body["trace"]["resourceSpans"] for s in g["scopeSpans"]) == 10_000
    assert "status" not in body
    found = oxeye.get("/api/search", params={"q": '{ name = "batch job" }'}).json()["traces"]
    assert found[0]["durationMs"] == 30 * 60 * 1000

    extra = [{"trace": trace, "span": random_span_id(rng), "parent": root, "name": "one too many",
              "service": "jobs", "start_ns": start + 1, "end_ns": start + 2} for _ in range(25)]
    response = send_spans(oxeye, extra)
    assert response.partial_success.rejected_spans == 25
    assert "TRACE_TOO_LARGE" in response.partial_success.error_message
    status, body = trace_v2(oxeye, trace)
    assert sum(len(s["spans"]) for g in body["trace"]["resourceSpans"] for s in g["scopeSpans"]) == 10_000
    assert body["status"] == "PARTIAL" and "25 span(s) were refused" in body["message"], body.get("message")
    jaeger = oxeye.get(f"/jaeger/api/traces/{trace}").json()["data"][0]
    assert jaeger["warnings"] and "25 span(s)" in jaeger["warnings"][0]


def _trace_blocks(oxeye) -> list:
    blocks = oxeye.data_dir / "tenants" / "default" / "traces" / "blocks"
    return sorted(p for p in blocks.iterdir() if p.is_file()) if blocks.is_dir() else []


def test_retention_deletes_expired_trace_blocks(oxeye_factory):
    retention_s = 20
    oxeye = oxeye_factory(["--retention", f"{retention_s}s", "--maintenance-interval", "1s"])
    first = now_ns()
    old_end = first - 10_000_000_000
    send_spans(oxeye, [{"trace": "01" * 16, "span": "02" * 8, "parent": "", "name": "old", "service": "r",
                        "start_ns": old_end - 1_000_000_000, "end_ns": old_end}])
    oxeye.flush()
    send_spans(oxeye, [{"trace": "03" * 16, "span": "04" * 8, "parent": "", "name": "new", "service": "r",
                        "start_ns": first, "end_ns": first + 1_000}])
    oxeye.flush()
    assert len(_trace_blocks(oxeye)) == 2, _trace_blocks(oxeye)
    expire_old = first + 10_000_000_000
    time.sleep(max(0.0, (expire_old - now_ns()) / 1e9) + 3)
    assert now_ns() < first + retention_s * 1_000_000_000, "the machine was too slow for this test's timing"
    assert len(_trace_blocks(oxeye)) == 1
    assert trace_v2(oxeye, "01" * 16)[0] == 404
    assert trace_v2(oxeye, "03" * 16)[0] == 200
