"""``storehub bench api`` runs end to end: lookups through a real hub beside /healthz,
the domain call alone, and the outbox's single and batched appends, gapless.

Tiny phases and no timing goals: the shape of the report and the outbox's correctness
are checked, not the speed of a shared machine."""

from __future__ import annotations

from sqlalchemy import delete

from hub.bench.api import check_outbox, in_process_store, outbox_phase, run_api_bench
from hub.bench.cli import api_table
from hub.store.models import OutboxEvent
from tests.test_bench import bench_processes

HTTP_KEYS = {
    "requests",
    "throughput",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "max_ms",
    "errors",
    "bench_cpu",
    "hub_cpu",
    "hub_cpu_ms",
}
OUTBOX_KEYS = {"events", "events_per_s", "writes", "commits", "events_per_commit", "write_p50_ms", "gapless"}


async def test_api_bench_reports_lookups_beside_healthz_and_a_gapless_outbox() -> None:
    before = bench_processes()

    report = await run_api_bench(callers=5, rate=10, seconds=0.3, warmup=0.1)

    lookup = report["lookup"]
    assert lookup["gtins"] > 100 and lookup["products"] > lookup["gtins"] - 1
    for kind in ("paced", "closed"):
        for name in ("healthz", "lookup"):
            phase = lookup[kind][name]
            assert HTTP_KEYS <= phase.keys()
            assert phase["errors"] == 0, f"{kind} {name} had errors"
            assert phase["requests"] > 0 and phase["throughput"] > 0
            assert 0 < phase["p50_ms"] <= phase["p90_ms"] <= phase["p99_ms"] <= phase["max_ms"]
        assert lookup[kind]["ratio"]["p50"] > 0
    # Five callers at 10 a second for 0.3 s: a handful each, not a closed loop's hundreds.
    assert lookup["paced"]["lookup"]["requests"] <= 5 * 10 * 0.3 + 10

    assert report["domain_lookup"]["requests"] > 0 and report["domain_lookup"]["p50_ms"] > 0

    outbox = report["outbox"]
    assert outbox["synchronous"] == "FULL" and outbox["journal_mode"] == "WAL"
    assert 400 <= outbox["event_bytes"] <= 900
    for key, per_write in (("single", 1), ("batched", 1), ("bulk", 500)):
        phase = outbox[key]
        assert OUTBOX_KEYS <= phase.keys()
        assert phase["events"] > 0 and phase["events"] == phase["writes"] * per_write
        assert phase["gapless"], f"{key}: the outbox has gaps"
    # One transaction per write when waited for; the writer shares them when many are in flight.
    assert outbox["single"]["commits"] == outbox["single"]["writes"]
    assert outbox["batched"]["events_per_commit"] > 1
    assert outbox["bulk"]["last_seq"] == outbox["bulk"]["outbox_events"]

    assert set(report["goals"]) >= {"lookup_p99_ms", "lookup_met", "batched_events_per_s", "batched_met"}
    table = api_table(report)
    for line in ("closed loop lookup", "lookup/healthz", "single-event commits", "(goal <= 10 ms)", "(goal >= 20,000)"):
        assert line in table
    # The broker and the hub are stopped again.
    assert bench_processes() - before == set()


def test_the_gapless_check_finds_a_missing_event() -> None:
    with in_process_store(seeded=False) as (domain, _batch, _path):
        phase = outbox_phase(domain.writer, seconds=0.1, in_flight=16)
        assert phase["gapless"] and phase["events"] > 0
        assert check_outbox(domain.writer).gapless

        domain.writer.run_sync(lambda s: s.execute(delete(OutboxEvent).where(OutboxEvent.seq == 2)))

        hole = check_outbox(domain.writer)
        assert not hole.gapless and hole.count == hole.last_seq - 1
