"""``storehub bench sync`` runs end to end: a backlog posted straight to a reference cloud,
then drained by a real hub, with the hub's memory sampled; nothing left running.

A tiny backlog and no speed goals: the report's shape, that every event arrived, and
the histogram arithmetic are checked, not the speed of a shared machine."""

from __future__ import annotations

from hub.bench.sync import _histogram_ms, run_sync_bench, sync_table
from tests.test_bench import bench_processes


async def test_sync_bench_drains_every_event_and_samples_the_hubs_memory() -> None:
    before = bench_processes()

    report = await run_sync_bench(events=3000, small=1000, batch=500)

    assert report["baseline"]["events"] == 3000 and report["baseline"]["events_per_s"] > 0
    for key, count in (("small", 1000), ("full", 3000)):
        drain = report["drains"][key]
        assert drain["events"] == count and drain["events_per_s"] > 0
        assert drain["rss_mib"]["samples"] > 0 and drain["rss_mib"]["max"] >= drain["rss_mib"]["p50"] > 20
        assert drain["batch_p50_ms"] is not None and drain["batch_p50_ms"] <= drain["batch_p99_ms"]
    assert set(report["goals"]) == {"drain_events_per_s", "drain_goal", "drain_met", "rss_flat_met"}
    table = sync_table(report)
    assert "baseline (bench, no hub)" in table and "hub drains 3,000" in table and "RSS flat" in table
    assert bench_processes() <= before, "the bench left processes running"


def test_a_histogram_quantile_is_interpolated_within_its_bucket() -> None:
    metrics = "\n".join(
        [
            "# TYPE storehub_sync_push_seconds histogram",
            'storehub_sync_push_seconds_bucket{le="0.01"} 0.0',
            'storehub_sync_push_seconds_bucket{le="0.05"} 50.0',
            'storehub_sync_push_seconds_bucket{le="0.1"} 100.0',
            'storehub_sync_push_seconds_bucket{le="+Inf"} 100.0',
            "storehub_sync_push_seconds_count 100.0",
            "storehub_sync_push_seconds_sum 5.0",
        ]
    )
    # Half of the batches lie within 10-50 ms: the median is at the bucket's top.
    assert _histogram_ms(metrics, "storehub_sync_push_seconds", 0.5) == 50.0
    assert _histogram_ms(metrics, "storehub_sync_push_seconds", 0.25) == 30.0
    assert _histogram_ms(metrics, "storehub_sync_push_seconds", 0.99) == 99.0
    assert _histogram_ms("", "storehub_sync_push_seconds", 0.5) is None
