"""Logs durability and retention: acknowledged pushes survive `kill -9` (with blocks being cut from the head while
the writers run), and retention deletes whole blocks once their newest entry is older than the retention.
"""

from __future__ import annotations

import http.client
import threading
import time

import pytest

from loki_client import all_entries, index_stats, now_ns, push, push_ok

WRITERS = 2
LINES_PER_REQUEST = 10
MAX_REQUESTS = 50_000
ACKS_BEFORE_KILL = 150


class Writer(threading.Thread):
    """Pushes request i = 0, 1, …: `LINES_PER_REQUEST` unique lines; records which requests were acknowledged."""

    def __init__(self, oxeye, writer_id: int, base_ns: int, stop: threading.Event):
        super().__init__(daemon=True)
        self.oxeye, self.writer_id, self.base_ns, self.stop = oxeye, writer_id, base_ns, stop
        self.acknowledged: list[int] = []
        self.failures: list[str] = []
        self.unexpected: list[str] = []

    def lines(self, i: int) -> list[tuple[int, str]]:
        return [(self.base_ns + (i * LINES_PER_REQUEST + k) * 1000, f"writer={self.writer_id} request={i} line={k}")
                for k in range(LINES_PER_REQUEST)]

    def run(self) -> None:
        for i in range(MAX_REQUESTS):
            if self.stop.is_set():
                return
            values = [[str(ts), line] for ts, line in self.lines(i)]
            try:
                response = push(self.oxeye, [{"stream": {"job": "crash", "writer": str(self.writer_id)}, "values": values}])
            except (OSError, http.client.HTTPException) as error:
                self.failures.append(f"request {i}: {error}")
                return
            if response.status == 204:
                self.acknowledged.append(i)
            else:
                self.unexpected.append(f"request {i}: {response.status} {response.text}")
                return


def _log_blocks(oxeye) -> list:
    blocks = oxeye.data_dir / "tenants" / "default" / "logs" / "blocks"
    return sorted(blocks.glob("*.olb")) if blocks.is_dir() else []


@pytest.mark.parametrize(
    ("args", "config", "wait_for_blocks"),
    [
        ([], None, False),
        (["--wal-fsync", "always"], None, False),
        # A tiny head: the maintenance loop cuts blocks (and deletes WAL segments) while the writers push.
        (["--maintenance-interval", "1s"], {"logs": {"head_max_bytes": 20_000}}, True),
    ],
    ids=["default-fsync", "fsync-always", "blocks-cut-while-writing"],
)
def test_acknowledged_log_lines_survive_kill_9(oxeye_factory, args, config, wait_for_blocks):
    oxeye = oxeye_factory(args, config=config)
    base_ns = now_ns() - 60_000_000_000
    stop = threading.Event()
    writers = [Writer(oxeye, w, base_ns + w, stop) for w in range(WRITERS)]
    for writer in writers:
        writer.start()
    killed = False
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and all(w.is_alive() for w in writers):
            enough = sum(len(w.acknowledged) for w in writers) >= ACKS_BEFORE_KILL
            if enough and (not wait_for_blocks or len(_log_blocks(oxeye)) >= 2):
                break
            time.sleep(0.02)
        assert all(w.is_alive() for w in writers), [w.unexpected or w.failures for w in writers]
        if wait_for_blocks:
            assert len(_log_blocks(oxeye)) >= 2, "no blocks were cut while writing"
        oxeye.kill()
        killed = True
    finally:
        if not killed:
            stop.set()
        for writer in writers:
            writer.join(timeout=30)
        stop.set()
    assert not any(w.unexpected for w in writers), [w.unexpected for w in writers]
    assert all(w.failures for w in writers), "a writer finished without seeing the crash"

    oxeye.start()
    end = now_ns() + 1_000_000_000
    stored: set[str] = set()
    for writer in writers:
        entries = all_entries(oxeye, f'{{job="crash", writer="{writer.writer_id}"}}', base_ns - 1, end)
        stored.update(line for _, _, line in entries)
    missing = [line for w in writers for i in w.acknowledged for _, line in w.lines(i) if line not in stored]
    acknowledged = sum(len(w.acknowledged) for w in writers) * LINES_PER_REQUEST
    assert not missing, f"{len(missing)} of {acknowledged} acknowledged lines lost, e.g. {missing[:5]}"
    sent = {line for w in writers for i in range(len(w.acknowledged) + 1) for _, line in w.lines(i)}
    assert stored <= sent, f"lines nobody sent: {sorted(stored - sent)[:5]}"

    # The restarted server keeps accepting pushes after the replay, and holds every line once: the index's entry
    # count (every stored row) equals the distinct lines read (a WAL replayed over a block would double some).
    push_ok(oxeye, [{"stream": {"job": "crash", "writer": "0"}, "values": [[str(now_ns()), "after restart"]]}])
    assert index_stats(oxeye, '{job="crash"}', start_ns=base_ns - 1)["entries"] == len(stored) + 1


def test_retention_deletes_expired_log_blocks(oxeye_factory):
    retention_s = 20
    oxeye = oxeye_factory(["--retention", f"{retention_s}s", "--maintenance-interval", "1s"])
    first = now_ns()
    old_newest = first - 10_000_000_000
    push_ok(oxeye, [{"stream": {"job": "old"}, "values": [[str(old_newest - 1_000_000_000), "old one"],
                                                          [str(old_newest), "old two"]]}])
    oxeye.flush()
    push_ok(oxeye, [{"stream": {"job": "new"}, "values": [[str(first), "new one"]]}])
    oxeye.flush()
    assert len(_log_blocks(oxeye)) == 2
    # The first block's newest entry passes the retention 10 s after `first`; the second's 20 s after it.
    expire_old = first + 10_000_000_000
    time.sleep(max(0.0, (expire_old - now_ns()) / 1e9) + 3)
    assert now_ns() < first + retention_s * 1_000_000_000, "the machine was too slow for this test's timing"
    assert len(_log_blocks(oxeye)) == 1
    assert index_stats(oxeye, '{job="old"}', start_ns=first - 60_000_000_000)["entries"] == 0
    assert index_stats(oxeye, '{job="new"}', start_ns=first - 60_000_000_000)["entries"] == 1
