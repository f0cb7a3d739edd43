"""Tail sampling in the backend: with a 1 % base rate, every error trace and every trace above the latency
threshold is kept, the kept fraction of the others stays within binomial bounds, span metrics count every span sent
(sampling happens after them), and the decisions show in the self-metrics.
"""

from __future__ import annotations

import math
import random

from oxeye_server import metric_value
from tempo_client import now_ns, random_span_id, random_trace_id, send_spans, span_count, wait_for

TRACES = 3_000
SPANS_PER_TRACE = 3


def test_sampling_keeps_errors_and_slow_traces_and_a_fraction_of_the_rest(oxeye_factory):
    config = {"traces": {"sampling": {"enabled": True, "decision_wait": "1s", "base_rate": 0.01,
                                      "latency_threshold": "2s",
                                      "rate_rules": [{"span_name": "GET /health", "rate": 0.0}]}}}
    oxeye = oxeye_factory(config=config)
    rng = random.Random(7)
    start = now_ns() - 30_000_000_000
    kinds: dict[str, str] = {}
    batch: list[dict] = []
    for n in range(TRACES):
        trace = random_trace_id(rng)
        kind = "error" if n % 50 == 0 else "slow" if n % 50 == 1 else "health" if n % 50 == 2 else "normal"
        kinds[trace] = kind
        root = random_span_id(rng)
        duration = 3_000_000_000 if kind == "slow" else 40_000_000
        name = "GET /health" if kind == "health" else "GET /api"
        batch.append({"trace": trace, "span": root, "parent": "", "name": name, "service": "api",
                      "start_ns": start, "end_ns": start + duration})
        for k in range(SPANS_PER_TRACE - 1):
            batch.append({"trace": trace, "span": random_span_id(rng), "parent": root, "name": f"step {k}",
                          "service": "worker", "start_ns": start + 1_000, "end_ns": start + 2_000_000,
                          "error": kind == "error" and k == 0})
        if len(batch) >= 900:
            assert not send_spans(oxeye, batch).HasField("partial_success")
            batch = []
    if batch:
        send_spans(oxeye, batch)

    # Decisions are taken a second after each trace's last span; wait until nothing is pending.
    def settled():
        samples = oxeye.self_metrics()
        return metric_value(samples, "oxeye_sampling_pending_traces", tenant="default") == 0
    wait_for(settled, timeout=30, what="every trace decided")

    kept = {trace for trace in kinds if span_count(oxeye, trace) > 0}
    for trace in kept:
        assert span_count(oxeye, trace) == SPANS_PER_TRACE, "a kept trace is kept whole"
    by_kind = {kind: [t for t, k in kinds.items() if k == kind] for kind in ("error", "slow", "health", "normal")}
    assert all(t in kept for t in by_kind["error"]), "every error trace is kept"
    assert all(t in kept for t in by_kind["slow"]), "every slow trace is kept"
    assert not any(t in kept for t in by_kind["health"]), "health checks are sampled at 0 %"
    normal = len(by_kind["normal"])
    kept_normal = sum(1 for t in by_kind["normal"] if t in kept)
    mean, sd = normal * 0.01, math.sqrt(normal * 0.01 * 0.99)
    assert abs(kept_normal - mean) <= 5 * sd, f"kept {kept_normal} of {normal} ordinary traces, expected ≈{mean:.0f}"

    # Span metrics count every span sent, before sampling.
    oxeye.flush()
    total = oxeye.api_data("/api/v1/query", {"query": "sum(traces_spanmetrics_calls_total)"})
    assert float(total["result"][0]["value"][1]) == TRACES * SPANS_PER_TRACE
    samples = oxeye.self_metrics()
    assert metric_value(samples, "oxeye_sampling_traces_total", tenant="default", decision="kept",
                        policy="error") == len(by_kind["error"])
    assert metric_value(samples, "oxeye_sampling_traces_total", tenant="default", decision="kept",
                        policy="latency") == len(by_kind["slow"])
    assert metric_value(samples, "oxeye_sampling_spans_dropped_total", tenant="default") == \
        (TRACES - len(kept)) * SPANS_PER_TRACE
