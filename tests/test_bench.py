"""``storehub bench rtt`` runs end to end: its own broker, the raw echoer, the real hub."""

from __future__ import annotations

import os
from pathlib import Path

from hub.bench.cli import report_table
from hub.bench.rtt import run_rtt_bench

PHASE_KEYS = {"requests", "throughput", "p50_ms", "p90_ms", "p99_ms", "max_ms", "errors"}


def bench_processes() -> set[int]:
    """Processes a bench of this test process started and left: Mosquitto and the hub in
    a storehub-bench-* folder, the echoer.  Its own children (or orphans), not those of
    another pytest worker's bench."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if (b"storehub-bench-" in cmdline or b"hub.bench.echo" in cmdline) and _ours(int(entry.name)):
            found.add(int(entry.name))
    return found


def _ours(pid: int) -> bool:
    """``pid`` descends from this process, or lost its parent (as a leaked one would)."""
    parent = _parent(pid)
    if parent == 1:
        return True
    while parent > 1:
        if parent == os.getpid():
            return True
        parent = _parent(parent)
    return False


def _parent(pid: int) -> int:
    try:
        return int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


async def test_both_phases_answer_every_request_and_leave_nothing_running() -> None:
    before = bench_processes()

    report = await run_rtt_bench(clients=2, seconds=0.5, warmup=0.2)

    assert report["clients"] == 2
    assert report["cpus"] >= 1
    for name in ("raw", "hub"):
        phase = report[name]
        assert PHASE_KEYS <= phase.keys()
        assert phase["errors"] == 0, f"{name} phase had errors"
        assert phase["requests"] > 0, f"{name} phase answered nothing"
        assert phase["throughput"] > 0
        assert 0 < phase["p50_ms"] <= phase["p90_ms"] <= phase["p99_ms"] <= phase["max_ms"]
    for key in ("throughput", "p50", "p99"):
        assert report["ratio"][key] > 0
    table = report_table(report)
    assert "raw" in table and "hub" in table and "hub/raw" in table
    # The broker, the echoer and the hub are all stopped again.
    assert bench_processes() - before == set()


async def test_paced_tills_send_no_faster_than_their_rate() -> None:
    report = await run_rtt_bench(clients=2, seconds=1.0, warmup=0.2, rate=10)
    for name in ("raw", "hub"):
        phase = report[name]
        assert phase["errors"] == 0
        # Two tills at 10 requests a second for one second: about 20, never the hundreds
        # a closed loop would send.
        assert 10 <= phase["requests"] <= 24, phase
    assert "at 10 req/s each" in report_table(report)


async def test_contention_bench_reports_claims_and_jobs_beside_the_uncontended_run() -> None:
    from hub.bench.cli import contention_table
    from hub.bench.contention import run_contention_bench

    before = bench_processes()
    report = await run_contention_bench(tills=2, seconds=0.5, warmup=0.1)
    for part in ("uncontended", "contended"):
        claims, jobs = report[part]["claims"], report[part]["jobs"]
        assert claims["errors"] == 0 and jobs["errors"] == 0
        assert claims["cycles"] > 0 and jobs["requests"] > 0
        assert 0 < claims["claim_p50_ms"] <= claims["claim_p99_ms"] <= claims["claim_max_ms"]
    assert "contended claim grant" in contention_table(report)
    assert bench_processes() - before == set()


async def test_scan_bench_measures_scan_to_till_for_one_and_many_scanners() -> None:
    from hub.bench.cli import scan_table
    from hub.bench.scan import run_scan_bench

    before = bench_processes()
    report = await run_scan_bench(scanners=3, seconds=0.5, warmup=0.2)
    for phase in ("alone", "together"):
        assert report[phase]["errors"] == 0 and report[phase]["scans"] > 0
        assert 0 < report[phase]["p50_ms"] <= report[phase]["p99_ms"] <= report[phase]["max_ms"]
    assert report["prints"]["errors"] == 0 and report["prints"]["receipts"] > 0
    assert "3 scanners" in scan_table(report) and "receipts to the network printer" in scan_table(report)
    assert bench_processes() - before == set()


async def test_fiscal_bench_prints_every_answered_receipt_and_stands_beside_the_wire_floor() -> None:
    from hub.bench.fiscal import fiscal_table, run_fiscal_bench

    before = bench_processes()
    report = await run_fiscal_bench(seconds=0.5, lines=3)
    # run_fiscal_bench itself refuses a report whose receipts the register did not print.
    assert report["receipts"] > 0 and report["receipts_per_min"] > 0
    assert 0 < report["p50_ms"] <= report["p99_ms"] <= report["max_ms"]
    # The wire floor is what the line allows; through the hub is never faster.
    assert report["wire_bytes_per_receipt"] > 0
    assert 0 < report["ratio_to_floor"] <= 1
    assert report["wire_ms_per_receipt"] <= report["p50_ms"]
    assert "wire floor" in fiscal_table(report)
    assert bench_processes() - before == set()


async def test_labels_bench_prints_the_batch_during_the_receipts_and_stands_beside_the_link_floor() -> None:
    from hub.bench.labels import labels_table, run_labels_bench

    before = bench_processes()
    report = await run_labels_bench(labels=8, tills=2, seconds=0.5, link_bytes_per_s=200_000)
    assert report["printed"] == 8 and report["labels_per_min"] > 0
    # The link's floor is what the wire allows; through the hub is never faster.
    assert report["wire_bytes_per_label"] > 0
    assert 0 < report["labels_per_min"] <= report["wire_floor_labels_per_min"]
    for phase in (report["receipts_alone"], report["receipts_during_batch"]):
        assert phase["receipts"] > 0 and phase["errors"] == 0
        assert 0 < phase["p50_ms"] <= phase["p99_ms"] <= phase["max_ms"]
    assert report["receipt_p99_ratio"] > 0
    assert 0 < report["price_to_queue_ms"]["p50"] <= report["price_to_queue_ms"]["max"]
    table = labels_table(report)
    assert "during the batch" in table and "the link's floor" in table and "label in the queue" in table
    assert bench_processes() - before == set()


async def test_web_bench_times_the_labels_page_a_manager_sees_beside_healthz() -> None:
    from hub.bench.cli import web_table
    from hub.bench.web import run_web_bench

    before = bench_processes()
    # run_web_bench itself refuses a page that does not count every stale label.
    report = await run_web_bench(stale=150, callers=1, seconds=0.5, warmup=0.1)
    assert report["stale"] == 150 and report["page_bytes"] > 0
    for name in ("healthz", "labels"):
        phase = report[name]
        assert PHASE_KEYS <= phase.keys() and phase["requests"] > 0 and phase["errors"] == 0
        assert 0 < phase["p50_ms"] <= phase["p99_ms"] <= phase["max_ms"]
    assert report["ratio"]["p99"] > 0 and report["goal"]["labels_p99_ms"] == report["labels"]["p99_ms"]
    table = web_table(report)
    assert "GET /manage/labels with 150 stale labels" in table and "labels/healthz" in table
    assert bench_processes() - before == set()


async def test_tui_bench_times_the_console_under_a_busy_store_and_leaves_nothing_running() -> None:
    from hub.bench.tui import run_tui_bench, tui_table

    before = bench_processes()
    report = await run_tui_bench(devices=5, rate=5, seconds=1.0, presses=2)
    state = report["state_to_screen"]
    assert 4 * 5 <= state["published"] <= 6 * 5 and 0 < state["on_screen"] <= state["published"], state
    assert state["p99_ms"] > 0
    for phase in ("keys_quiet", "keys_busy"):
        assert report[phase]["count"] == 4 and report[phase]["lost"] == 0, report[phase]
    assert "publish to screen" in tui_table(report) and "key to screen, busy" in tui_table(report)
    assert bench_processes() - before == set()
