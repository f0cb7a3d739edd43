"""Retention: with `retention: 2h` (and `max_sample_age: 30d`, so that older samples are still accepted), samples
spanning the last 10 hours are imported and flushed into blocks; the maintenance loop must then delete, from disk,
exactly the blocks whose end is older than now − 2h, and their samples must vanish while recent ones remain.
"""

from __future__ import annotations

import json
import time

from oxeye_server import metric_value, now_ms, series_key

HOUR_MS = 3600 * 1000
RETENTION_MS = 2 * HOUR_MS
STEP_MS = 60_000
SERIES = 3


def _blocks_on_disk(data_dir) -> dict[str, dict]:
    """`{block id: meta.json}` for the default tenant (`<data>/tenants/<tenant>/metrics/blocks/<id>/meta.json`)."""
    blocks_dir = data_dir / "tenants" / "default" / "metrics" / "blocks"
    if not blocks_dir.is_dir():
        return {}
    return {
        meta.parent.name: json.loads(meta.read_text())
        for meta in blocks_dir.glob("*/meta.json")
    }


def test_retention_deletes_expired_blocks(oxeye_factory):
    config = {"retention": "2h", "limits": {"max_sample_age": "30d"}}
    # No maintenance during the import and flush; it runs every second after the restart.
    oxeye = oxeye_factory(["--maintenance-interval", "1h"], config=config)
    import_ms = now_ms()
    timestamps = list(range(import_ms - 10 * HOUR_MS, import_ms, STEP_MS))
    text = "".join(
        f'retention_test{{k="{k}"}} {i} {t}\n' for i, t in enumerate(timestamps) for k in range(SERIES)
    )
    response = oxeye.import_text(text)
    assert response.status == 204, response.text
    imported = {i: t for i, t in enumerate(timestamps)}
    assert len(oxeye.export('retention_test{k="0"}')[series_key({"__name__": "retention_test", "k": "0"})]) == \
        len(timestamps)

    oxeye.flush()
    blocks = _blocks_on_disk(oxeye.data_dir)
    assert len(blocks) >= 5, f"10h of data should make several 2h blocks: {blocks}"
    assert sum(b["stats"]["numSamples"] for b in blocks.values()) == len(timestamps) * SERIES
    assert min(b["minTime"] for b in blocks.values()) <= timestamps[0]
    assert max(b["maxTime"] for b in blocks.values()) > timestamps[-1]

    before_restart_ms = now_ms()
    must_go = {i for i, b in blocks.items() if b["maxTime"] <= before_restart_ms - RETENTION_MS}
    assert must_go, blocks
    oxeye.restart(["--maintenance-interval", "1s"])

    deadline = time.monotonic() + 30
    for _ in range(300):
        remaining = _blocks_on_disk(oxeye.data_dir)
        if not (must_go & set(remaining)) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    after_ms = now_ms()
    remaining = _blocks_on_disk(oxeye.data_dir)
    assert not must_go & set(remaining), f"expired blocks still on disk: {must_go & set(remaining)}"
    must_stay = {i for i, b in blocks.items() if b["maxTime"] > after_ms - RETENTION_MS}
    assert must_stay <= set(remaining), f"unexpired blocks deleted: {must_stay - set(remaining)}"
    assert set(remaining) <= set(blocks), "no new blocks expected"
    blocks_dir = oxeye.data_dir / "tenants" / "default" / "metrics" / "blocks"
    assert sorted(p.name for p in blocks_dir.iterdir()) == sorted(remaining), "leftovers beside the blocks"

    # Exactly the samples inside the remaining blocks are readable; everything newer than now − 2h is among them.
    def kept(t: int) -> bool:
        return any(b["minTime"] <= t < b["maxTime"] for b in remaining.values())

    expected = {series_key({"__name__": "retention_test", "k": str(k)}): [(t, float(i)) for i, t in imported.items()
                                                                            if kept(t)] for k in range(SERIES)}
    assert all(kept(t) for t in timestamps if t >= after_ms - RETENTION_MS)
    assert not any(kept(t) for t in timestamps if t < import_ms - 6 * HOUR_MS)
    stored = oxeye.export("retention_test")
    assert stored == expected, {render: (len(v), v[:1]) for render, v in stored.items()}
    # The head holds nothing after the flush, so the series API agrees.
    assert oxeye.series("retention_test") == set(expected)

    self_metrics = oxeye.self_metrics()
    deleted = metric_value(self_metrics, "oxeye_blocks_deleted_total", tenant="default")
    assert deleted >= len(must_go) > 0, deleted
    assert metric_value(self_metrics, "oxeye_blocks", tenant="default") == len(remaining)


def test_samples_older_than_the_retention_are_refused(oxeye_factory):
    # Without max_sample_age the retention is the oldest accepted age; a tenant may be given its own.
    config = {"retention": "2h", "tenants": {"archive": {"max_sample_age": "30d"}}}
    oxeye = oxeye_factory(config=config)
    now = now_ms()
    text = f"too_old 1 {now - 3 * HOUR_MS}\nrecent 2 {now - HOUR_MS}\n"
    response = oxeye.import_text(text)
    assert response.status == 400, response.text
    assert "too_old" in response.text and "recent" not in response.text, response.text
    assert oxeye.export('{__name__=~"too_old|recent"}') == {series_key({"__name__": "recent"}): [(now - HOUR_MS, 2.0)]}
    assert metric_value(oxeye.self_metrics(), "oxeye_rejected_samples_total", tenant="default",
                        reason="sample_too_old") == 1

    assert oxeye.import_text(text, tenant="archive").status == 204
    assert set(oxeye.export('{__name__=~"too_old|recent"}', tenant="archive")) == {
        series_key({"__name__": "too_old"}), series_key({"__name__": "recent"})
    }
