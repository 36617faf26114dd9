"""``storehub bench …``: the bench command group, its options and report tables.

Each bench is run lazily (its module is imported only when it runs), so the rest of
``storehub`` starts without the benches' imports.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from hub.cli_support import json_option, setup_logging


def add_commands(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser("bench", help="measure the hub (see `storehub bench rtt --help`)")
    benches = bench.add_subparsers(dest="bench", required=True, metavar="BENCH")
    rtt = benches.add_parser("rtt", help="request/response round trips through the hub vs. the raw broker")
    rtt.add_argument("--clients", type=int, default=1, help="concurrent clients (default 1)")
    _bench_options(rtt, rate="requests per second per client")
    json_option(rtt)
    contention = benches.add_parser(
        "contention", help="N tills taking turns on one exclusive device while N queue jobs on one shared device"
    )
    contention.add_argument("--tills", type=int, default=10, help="tills on each device (default 10)")
    _bench_options(contention)
    json_option(contention)
    scan = benches.add_parser(
        "scan", help="scan-to-till latency (one scanner, then N at once), then receipt throughput to a network printer"
    )
    scan.add_argument("--scanners", type=int, default=20, help="scanners, each claimed by its own till (default 20)")
    _bench_options(scan, rate="scans per second per scanner")
    json_option(scan)

    fiscal = benches.add_parser(
        "fiscal",
        help="receipts per minute through the hub to the fiscal register at its line speed, beside the wire floor",
    )
    _bench_options(fiscal, seconds=10.0, phases=False)
    fiscal.add_argument("--lines", type=int, default=10, help="lines per receipt (default 10)")
    fiscal.add_argument("--baudrate", type=int, default=115200, help="the register's line speed (default 115200)")
    json_option(fiscal)

    labels = benches.add_parser(
        "labels",
        help="a long batch of shelf labels to the simulated Zebra beside the link's floor, and the tills' receipts "
        "during it beside without it, and a price's way from the cloud to the label queue",
    )
    labels.add_argument("--labels", type=int, default=500, help="labels in the batch (default 500)")
    labels.add_argument("--tills", type=int, default=20, help="tills printing receipts meanwhile (default 20)")
    _bench_options(labels, seconds=10.0, phases=False)
    labels.add_argument(
        "--link-bytes-per-s",
        type=int,
        default=11_520,
        help="the label printer's link speed; 0 = unclocked (default 11520: a 115200-baud serial line)",
    )
    json_option(labels)

    api = benches.add_parser(
        "api",
        help="product lookups through the store API beside /healthz, and the outbox's append rate (single vs batched)",
    )
    api.add_argument("--callers", type=int, default=50, help="concurrent callers, one connection each (default 50)")
    api.add_argument(
        "--rate",
        type=float,
        default=4.0,
        help="lookups per second per caller in the paced phases; 0 = closed loop only (default 4)",
    )
    _bench_options(api)
    api.add_argument(
        "--outbox-dir",
        type=Path,
        default=None,
        help="where the outbox's throwaway SQLite file goes (default: the temp folder)",
    )
    json_option(api)

    sync_bench = benches.add_parser(
        "sync", help="drain rate of an outage's backlog to the reference cloud, and the hub's memory meanwhile"
    )
    sync_bench.add_argument("--events", type=int, default=100_000, help="the backlog (default 100000)")
    sync_bench.add_argument(
        "--small", type=int, default=10_000, help="the smaller backlog RSS is compared with (default 10000)"
    )
    sync_bench.add_argument("--batch", type=int, default=1000, help="events per pushed batch (default 1000)")
    json_option(sync_bench)

    web = benches.add_parser(
        "web", help="the managers' Labels page with thousands of stale labels, beside /healthz in the same run"
    )
    web.add_argument("--stale", type=int, default=5000, help="stale shelf labels in the store (default 5000)")
    web.add_argument(
        "--callers", type=int, default=2, help="managers' browsers, one connection each, closed loop (default 2)"
    )
    _bench_options(web)
    json_option(web)

    tui_bench = benches.add_parser(
        "tui", help="the technician's console: a busy store's state changes to the screen, and keys to their answer"
    )
    tui_bench.add_argument("--devices", type=int, default=100, help="devices publishing (default 100)")
    tui_bench.add_argument("--rate", type=float, default=10.0, help="state changes per second per device (default 10)")
    tui_bench.add_argument("--presses", type=int, default=20, help="? and Esc pairs in each phase (default 20)")
    _bench_options(tui_bench, phases=False)
    json_option(tui_bench)
    bench.set_defaults(run=_bench)


def _bench_options(
    parser: argparse.ArgumentParser, *, seconds: float = 5.0, phases: bool = True, rate: str | None = None
) -> None:
    """``--seconds``; for a bench in phases ``--warmup`` too; with ``rate`` (what is paced) ``--rate``."""
    per_phase = " per phase" if phases else ""
    parser.add_argument(
        "--seconds", type=float, default=seconds, help=f"measured time{per_phase} (default {seconds:g})"
    )
    if phases:
        parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured time before each phase (default 1)")
    if rate:
        parser.add_argument("--rate", type=float, default=0.0, help=f"{rate}; 0 (default) = as fast as answered")


def _bench(args: argparse.Namespace) -> int:
    from hub.bench.contention import run_contention_bench
    from hub.bench.rtt import run_rtt_bench
    from hub.bench.scan import run_scan_bench

    setup_logging("warning")
    if args.bench == "rtt":
        bench = run_rtt_bench(clients=args.clients, seconds=args.seconds, warmup=args.warmup, rate=args.rate)
        table = report_table
    elif args.bench == "scan":
        bench = run_scan_bench(scanners=args.scanners, seconds=args.seconds, warmup=args.warmup, rate=args.rate)
        table = scan_table
    elif args.bench == "fiscal":
        from hub.bench.fiscal import fiscal_table, run_fiscal_bench

        bench = run_fiscal_bench(seconds=args.seconds, lines=args.lines, baudrate=args.baudrate)
        table = fiscal_table
    elif args.bench == "labels":
        from hub.bench.labels import labels_table, run_labels_bench

        bench = run_labels_bench(
            labels=args.labels, tills=args.tills, seconds=args.seconds, link_bytes_per_s=args.link_bytes_per_s
        )
        table = labels_table
    elif args.bench == "api":
        from hub.bench.api import run_api_bench

        bench = run_api_bench(
            callers=args.callers, rate=args.rate, seconds=args.seconds, warmup=args.warmup, outbox_dir=args.outbox_dir
        )
        table = api_table
    elif args.bench == "web":
        from hub.bench.web import run_web_bench

        bench = run_web_bench(stale=args.stale, callers=args.callers, seconds=args.seconds, warmup=args.warmup)
        table = web_table
    elif args.bench == "sync":
        from hub.bench.sync import run_sync_bench, sync_table

        bench = run_sync_bench(events=args.events, small=args.small, batch=args.batch)
        table = sync_table
    elif args.bench == "tui":
        from hub.bench.tui import run_tui_bench, tui_table

        bench = run_tui_bench(devices=args.devices, rate=args.rate, seconds=args.seconds, presses=args.presses)
        table = tui_table
    else:
        bench = run_contention_bench(tills=args.tills, seconds=args.seconds, warmup=args.warmup)
        table = contention_table
    try:
        report = asyncio.run(bench)
    except KeyboardInterrupt:
        print("bench interrupted; everything it started has been stopped", file=sys.stderr)
        return 130
    print(json.dumps(report, indent=2) if args.json else table(report))
    return 0


def scan_table(report: dict) -> str:
    lines = [
        f"storehub bench scan: scan to till, {report['scanners']} scanner(s)"
        + (f" at {report['rate']:g} scans/s each" if report.get("rate") else ", as fast as answered")
        + f", {report['seconds']:g} s per phase, {report['cpus']} CPU(s)",
        f"{'phase':<16}{'scans':>8}{'per s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}",
    ]
    for label, key in (("one scanner", "alone"), (f"{report['scanners']} scanners", "together")):
        p = report[key]
        lines.append(
            f"{label:<16}{p['scans']:>8}{p['scans_per_s']:>9.0f}{p['p50_ms']:>9.2f}{p['p90_ms']:>9.2f}"
            f"{p['p99_ms']:>9.2f}{p['max_ms']:>9.2f}{p['errors']:>8}"
        )
    r = report["ratio"]
    lines.append(f"together/alone: p50 {r['p50']:.2f}x, p99 {r['p99']:.2f}x")
    p = report["prints"]
    lines.append(
        f"receipts to the network printer: {p['receipts']} in {report['seconds']:g} s = {p['receipts_per_s']:.0f}/s, "
        f"p50 {p['p50_ms']:.2f} ms, p99 {p['p99_ms']:.2f} ms, {p['errors']} errors"
    )
    return "\n".join(lines)


def contention_table(report: dict) -> str:
    lines = [
        f"storehub bench contention: {report['tills']} till(s) on one exclusive and {report['tills']} on one "
        f"shared device, {report['seconds']:g} s per phase, {report['cpus']} CPU(s)",
        f"{'':<26}{'count':>8}{'per s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}",
    ]
    for label, part in (("uncontended", report["uncontended"]), ("contended", report["contended"])):
        j, c = part["jobs"], part["claims"]
        lines.append(
            f"{label + ' jobs (shared)':<26}{j['requests']:>8}{j['throughput']:>9.0f}{j['p50_ms']:>9.2f}"
            f"{j['p99_ms']:>9.2f}{j['max_ms']:>9.2f}{j['errors']:>8}"
        )
        lines.append(
            f"{label + ' claim grant':<26}{c['cycles']:>8}{c['cycles_per_s']:>9.0f}{c['claim_p50_ms']:>9.2f}"
            f"{c['claim_p99_ms']:>9.2f}{c['claim_max_ms']:>9.2f}{c['errors']:>8}"
        )
    r = report["ratio"]
    lines.append(f"contended/uncontended: claim p50 {r['claim_p50']:.1f}x, shared jobs/s {r['jobs_throughput']:.2f}x")
    return "\n".join(lines)


def api_table(report: dict) -> str:
    lookup, outbox, goals = report["lookup"], report["outbox"], report["goals"]
    phase_row = "{:<22}{:>9}{:>8.0f}{:>8.2f}{:>8.2f}{:>8.2f}{:>8.2f}{:>7}{:>7}{:>6}{:>8}"

    def number(value: float | None, places: int = 2) -> str:
        return "?" if value is None else f"{value:.{places}f}"

    lines = [
        f"storehub bench api: {report['callers']} caller(s), one keep-alive connection each, "
        f"{report['seconds']:g} s per phase after {report['warmup']:g} s warm-up",
        f"{report['cpus']} CPU(s) shared by the hub and the load generator; machine load average "
        f"{report['load_average']['before']} before, {report['load_average']['after']} after",
        f"lookup: GET /api/v1/products/gtin/{{gtin}}, random of {lookup['gtins']} GTINs "
        f"({lookup['products']} products, {lookup['stocked']} stocked, seeded in {lookup['seed_s']:g} s); "
        "baseline: GET /healthz",
        "bench/hub: CPUs each process kept busy; hub ms: the hub's CPU time per answered request",
        f"{'phase':<22}{'requests':>9}{'req/s':>8}{'p50 ms':>8}{'p90 ms':>8}{'p99 ms':>8}{'max ms':>8}"
        f"{'errors':>7}{'bench':>7}{'hub':>6}{'hub ms':>8}",
    ]
    for kind in ("paced", "closed"):
        if kind not in lookup:
            continue
        label = f"{report['rate']:g}/s each" if kind == "paced" else "closed loop"
        for name in ("healthz", "lookup"):
            p = lookup[kind][name]
            lines.append(
                phase_row.format(
                    f"{label} {name}", p["requests"], p["throughput"], p["p50_ms"], p["p90_ms"], p["p99_ms"],
                    p["max_ms"], p["errors"], number(p.get("bench_cpu")), number(p.get("hub_cpu")),
                    number(p.get("hub_cpu_ms")),
                )
            )  # fmt: skip
        r = lookup[kind]["ratio"]
        lines.append(f"  lookup/healthz: req/s {r['throughput']:.2f}x, p50 {r['p50']:.2f}x, p99 {r['p99']:.2f}x")
    d = report["domain_lookup"]
    lines.append(
        f"domain call alone (StoreDomain.product in-process, 1 thread): {d['throughput']:.0f}/s, "
        f"p50 {d['p50_ms']:.3f} ms, p99 {d['p99_ms']:.3f} ms, max {d['max_ms']:.2f} ms, {d['cpu_ms']:.3f} ms CPU each"
    )
    lines += [
        "",
        f"outbox: SQLite {outbox['journal_mode']}, synchronous={outbox['synchronous']}, {outbox['filesystem']} at "
        f"{outbox['directory']}, {outbox['event_bytes']}-byte sale.completed events, {outbox['seconds']:g} s per phase",
        f"{'phase':<30}{'events':>9}{'events/s':>10}{'commits':>9}{'ev/commit':>10}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'  gapless':<9}",
    ]
    for label, key in (
        ("single-event commits", "single"),
        (f"batched, 1 event/write x{outbox['batched']['in_flight']}", "batched"),
        (f"batched, {outbox['bulk']['events_per_write']} events/write x{outbox['bulk']['in_flight']}", "bulk"),
    ):
        p = outbox[key]
        lines.append(
            f"{label:<30}{p['events']:>9}{p['events_per_s']:>10}{p['commits']:>9}{p['events_per_commit']:>10.1f}"
            f"{p['write_p50_ms']:>8.2f}{p['write_p99_ms']:>8.2f}  {'yes' if p['gapless'] else 'NO: GAPS'}"
        )
    r = outbox["ratio"]
    lines.append(
        f"  batched/single: {r['batched']:.1f}x (1 event/write), {r['bulk']:.1f}x ({outbox['bulk']['events_per_write']} "
        f"events/write); write ms: submit to commit; seqs checked gapless (count == last_seq, 1..last) after each phase"
    )
    verdict = {True: "met", False: "NOT met"}
    paced = "paced" in lookup
    lines += [
        "",
        f"lookup p99 {goals['lookup_p99_ms']:.2f} ms "
        + (f"at {report['callers']} x {report['rate']:g}/s" if paced else "in a closed loop")
        + f" (goal <= {goals['lookup_p99_goal_ms']:g} ms): {verdict[goals['lookup_met']]}",
        f"batched outbox {goals['batched_events_per_s']:,} events/s, 1 event/write "
        f"(goal >= {goals['outbox_goal_events_per_s']:,}): {verdict[goals['batched_met']]}",
        f"batched outbox {goals['bulk_events_per_s']:,} events/s, {outbox['bulk']['events_per_write']} events/write "
        f"(goal >= {goals['outbox_goal_events_per_s']:,}): {verdict[goals['bulk_met']]}",
    ]
    return "\n".join(lines)


def web_table(report: dict) -> str:
    phase_row = "{:<14}{:>9}{:>8.0f}{:>8.2f}{:>8.2f}{:>8.2f}{:>8.2f}{:>7}{:>6}{:>8}"

    def number(value: float | None, places: int = 2) -> str:
        return "?" if value is None else f"{value:.{places}f}"

    goal = report["goal"]
    lines = [
        f"storehub bench web: {report['callers']} signed-in manager(s), one keep-alive connection each, closed loop, "
        f"{report['seconds']:g} s per phase after {report['warmup']:g} s warm-up",
        f"{report['cpus']} CPU(s) shared by the hub and the load generator; machine load average "
        f"{report['load_average']['before']} before, {report['load_average']['after']} after",
        f"page: GET /manage/labels with {report['stale']} stale labels (seeded in {report['seed_s']:g} s), "
        f"{report['page_bytes']:,} bytes; baseline: GET /healthz",
        f"{'phase':<14}{'requests':>9}{'req/s':>8}{'p50 ms':>8}{'p90 ms':>8}{'p99 ms':>8}{'max ms':>8}"
        f"{'errors':>7}{'hub':>6}{'hub ms':>8}",
    ]
    for name in ("healthz", "labels"):
        p = report[name]
        lines.append(
            phase_row.format(
                name if name == "healthz" else "labels page", p["requests"], p["throughput"], p["p50_ms"],
                p["p90_ms"], p["p99_ms"], p["max_ms"], p["errors"], number(p.get("hub_cpu")),
                number(p.get("hub_cpu_ms")),
            )
        )  # fmt: skip
    r = report["ratio"]
    verdict = "met" if goal["met"] else "NOT met"
    lines += [
        f"  labels/healthz: req/s {r['throughput']:.2f}x, p50 {r['p50']:.2f}x, p99 {r['p99']:.2f}x",
        f"labels page p99 {goal['labels_p99_ms']:.2f} ms (goal <= {goal['labels_p99_goal_ms']:g} ms): {verdict}",
    ]
    return "\n".join(lines)


def report_table(report: dict) -> str:
    lines = [
        f"storehub bench rtt: {report['clients']} client(s)"
        + (f" at {report['rate']:g} req/s each" if report.get("rate") else ", as fast as answered")
        + f", {report['seconds']:g} s per phase, {report['cpus']} CPU(s)",
        f"{'phase':<8}{'requests':>10}{'req/s':>10}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}",
    ]
    for name in ("raw", "hub"):
        p = report[name]
        lines.append(
            f"{name:<8}{p['requests']:>10}{p['throughput']:>10.0f}{p['p50_ms']:>9.2f}{p['p90_ms']:>9.2f}"
            f"{p['p99_ms']:>9.2f}{p['max_ms']:>9.2f}{p['errors']:>8}"
        )
    r = report["ratio"]
    lines.append(f"hub/raw: throughput {r['throughput']:.2f}x, p50 {r['p50']:.2f}x, p99 {r['p99']:.2f}x")
    return "\n".join(lines)
