"""Crash safety: writers stream Prometheus text imports with explicit timestamps; oxeye is killed with SIGKILL while
requests are in flight, restarted on the same data dir, and every sample of every acknowledged (2xx) request must
be there. With the default fsync policy and with `--wal-fsync always` (a process crash loses no acknowledged
write under either; `always` also covers a machine crash, which this test cannot simulate), and with blocks being
cut from the head and the WAL checkpointed while the writers run.
"""

from __future__ import annotations

import http.client
import threading
import time

import pytest

from oxeye_server import metric_value, now_ms, series_key

WRITERS = 2
SERIES_PER_WRITER = 25
MAX_REQUESTS_PER_WRITER = 20_000
ACKS_BEFORE_KILL = 400


class Writer(threading.Thread):
    """Sends request i = 0, 1, …: one sample per series at `base_ms + i·step_ms` with value i; records the acks."""

    def __init__(self, oxeye, writer_id: int, base_ms: int, step_ms: int, stop: threading.Event):
        super().__init__(daemon=True)
        self.oxeye, self.writer_id, self.base_ms, self.step_ms, self.stop = oxeye, writer_id, base_ms, step_ms, stop
        self.acknowledged: list[int] = []
        self.failures: list[str] = []
        self.unexpected: list[str] = []

    def body(self, i: int) -> str:
        timestamp = self.timestamp(i)
        return "".join(
            f'crash_test{{writer="{self.writer_id}",series="{s}"}} {i} {timestamp}\n' for s in range(SERIES_PER_WRITER)
        )

    def timestamp(self, i: int) -> int:
        return self.base_ms + i * self.step_ms

    def run(self) -> None:
        for i in range(MAX_REQUESTS_PER_WRITER):
            if self.stop.is_set():
                return
            try:
                response = self.oxeye.import_text(self.body(i))
            except (OSError, http.client.HTTPException) as error:  # refused, reset, cut short: the server is gone
                self.failures.append(f"request {i}: {error}")
                return
            if 200 <= response.status < 300:
                self.acknowledged.append(i)
            else:
                self.unexpected.append(f"request {i}: {response.status} {response.text}")
                return


def _blocks_cut(oxeye) -> float:
    return metric_value(oxeye.self_metrics(), "oxeye_blocks_cut_total", tenant="default")


@pytest.mark.parametrize(
    ("args", "step_ms", "wait_for_block_cuts"),
    [
        ([], 1000, False),
        (["--wal-fsync", "always"], 1000, False),
        # Ten hours of data per 600 requests: the maintenance loop cuts blocks and checkpoints the WAL while the
        # writers run, so the kill may land in the middle of either.
        (["--maintenance-interval", "1s", "--retention", "30d"], 60_000, True),
    ],
    ids=["default-fsync", "fsync-always", "blocks-cut-while-writing"],
)
def test_acknowledged_samples_survive_kill_9(oxeye_factory, args, step_ms, wait_for_block_cuts):
    oxeye = oxeye_factory(args)
    base_ms = now_ms() - (MAX_REQUESTS_PER_WRITER + 10) * step_ms  # every timestamp stays in the past
    stop = threading.Event()
    killed = False
    writers = [Writer(oxeye, w, base_ms, step_ms, stop) for w in range(WRITERS)]
    for writer in writers:
        writer.start()
    try:
        deadline = time.monotonic() + 60
        for _ in range(3000):
            enough_acks = sum(len(w.acknowledged) for w in writers) >= ACKS_BEFORE_KILL
            if enough_acks and (not wait_for_block_cuts or _blocks_cut(oxeye) >= 2):
                break
            if time.monotonic() > deadline or not all(w.is_alive() for w in writers):
                break
            time.sleep(0.02)
        assert all(w.is_alive() for w in writers), (
            "writers stopped before the kill", [w.unexpected or w.failures for w in writers])
        assert sum(len(w.acknowledged) for w in writers) >= ACKS_BEFORE_KILL, [w.unexpected for w in writers]
        if wait_for_block_cuts:
            assert _blocks_cut(oxeye) >= 2, "no blocks were cut while writing"
        oxeye.kill()
        killed = True
    finally:
        if not killed:  # a failed precondition: stop the writers instead of letting them hit the dead server
            stop.set()
        for writer in writers:  # after the kill, each writer's next request fails and ends it
            writer.join(timeout=30)
        stop.set()
    assert not any(w.is_alive() for w in writers)
    assert not any(w.unexpected for w in writers), [w.unexpected for w in writers]
    # The kill happened mid-stream: the writers were still sending and saw their connection fail.
    assert all(w.failures for w in writers), "a writer finished without seeing the crash"

    oxeye.start()
    stored = oxeye.export("crash_test")
    missing = []
    for writer in writers:
        last_sent = (writer.acknowledged[-1] + 1) if writer.acknowledged else 0
        for s in range(SERIES_PER_WRITER):
            labels = {"__name__": "crash_test", "writer": str(writer.writer_id), "series": str(s)}
            samples = dict(stored.get(series_key(labels), []))
            for i in writer.acknowledged:
                if samples.get(writer.timestamp(i)) != float(i):
                    missing.append((writer.writer_id, s, i))
            # Nothing but what the writers sent (the unacknowledged last request may or may not be there).
            unexpected = {t: v for t, v in samples.items() if t != writer.timestamp(int(v)) or v > last_sent}
            assert not unexpected, (labels, unexpected)
    acknowledged = sum(len(w.acknowledged) for w in writers) * SERIES_PER_WRITER
    assert not missing, f"{len(missing)} of {acknowledged} acknowledged samples lost, e.g. {missing[:10]}"

    # The restarted server keeps accepting writes after the replay.
    next_ms = now_ms()
    assert oxeye.import_text(f'crash_test{{writer="0",series="0"}} -1 {next_ms}\n').status == 204
    after = oxeye.export('crash_test{writer="0",series="0"}')
    assert after[series_key({"__name__": "crash_test", "writer": "0", "series": "0"})][-1] == (next_ms, -1.0)
