"""``storehub bench sync``: how fast a store's backlog drains to the cloud after an
outage, and whether the hub's memory grows with the backlog (it must not: the queue
lives on disk).

Each phase gets a fresh reference cloud (`storehub cloud serve`, its own process and
SQLite file: ``hub.throwaway.ThrowawayCloud``) on loopback, and a backlog of ``sale.completed`` events written into the
store's outbox by the store layer before the hub starts — as a WAN outage leaves it.

1. **baseline**: the bench posts the backlog straight to the cloud with the link's own
   client (same batches, same gzip), no hub: what the cloud and loopback allow.
2. **drain, small backlog**: a real hub process (with its Mosquitto) starts and pushes.
3. **drain, full backlog**: the same with the full backlog.

Events/s are counted in the cloud, from the last sample where it held none of the
backlog (or the first where it held some) to the first where it held all of it (so the
rate errs low).  Batch
round trips come from the bench's own timings (baseline) and from the hub's
``storehub_sync_push_seconds`` histogram (drains; interpolated within buckets, as
Prometheus does).  The hub's RSS is sampled every 100 ms while it drains: if the
queue lived in memory, the full backlog's peak would be far above the small one's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import psutil
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import Session

from bus.passwords import new_secret
from cloud_link.client import CloudClient
from cloud_link.outbox import EncodedBatch
from cloud_link.reference.process import CloudServer
from hub.bench.api import event_bytes, sale_event
from hub.bench.harness import (
    BENCH_STORE,
    bench_store,
    cpu_count,
    hub_process,
    percentile_ms,
    ratio,
    say,
    stopped_by_sigterm,
)
from hub.db import create_store_engine, migrate
from hub.store.outbox import append_events, encoded_events_after, outbox_position
from hub.throwaway import ThrowawayCloud

#: The goal (issue 8): a backlog drains at this many events per second or more.
DRAIN_GOAL_EVENTS_PER_S = 10_000

#: "Flat": the hub's peak RSS with the full backlog at most this much above the small one's.
RSS_FLAT_TOLERANCE = 1.10

#: How often the bench samples the cloud's position (the store's own light
#: ``position`` call: sampling must not cost the cloud what it measures) and the hub's memory.
SAMPLE_INTERVAL_S = 0.1

#: Events per transaction while seeding the backlog (the writer's bulk size).
SEED_PER_TRANSACTION = 500

#: A drain that has not finished after this long has failed.
DRAIN_TIMEOUT_S = 600.0

BASELINE_STORE = "bench-direct"


async def run_sync_bench(*, events: int, small: int, batch: int) -> dict[str, Any]:
    with stopped_by_sigterm(), tempfile.TemporaryDirectory(prefix="storehub-bench-sync-") as folder:
        root = Path(folder)
        full_db = root / "full" / "storehub.db"
        say(f"seeding a backlog of {events:,} events…")
        seed_s = seed_backlog(full_db, events)
        baseline = await measure_direct(root / "cloud-baseline", full_db, batch)
        drains = {
            "small": await measure_drain(root / "small", small, batch),
            "full": await measure_drain(root / "full", events, batch, seeded=full_db),
        }
    full, small_drain = drains["full"], drains["small"]
    rss_ratio = ratio(full["rss_mib"]["max"], small_drain["rss_mib"]["max"])
    return {
        "cpus": cpu_count(),
        "events": events,
        "small": small,
        "batch": batch,
        "event_bytes": event_bytes(),
        "seed_s": round(seed_s, 2),
        "baseline": baseline,
        "drains": drains,
        "ratio": {"drain_vs_baseline": ratio(full["events_per_s"], baseline["events_per_s"]), "rss_max": rss_ratio},
        "goals": {
            "drain_events_per_s": full["events_per_s"],
            "drain_goal": DRAIN_GOAL_EVENTS_PER_S,
            "drain_met": full["events_per_s"] >= DRAIN_GOAL_EVENTS_PER_S,
            "rss_flat_met": rss_ratio <= RSS_FLAT_TOLERANCE,
        },
    }


def seed_backlog(database: Path, count: int) -> float:
    """``count`` sales in the store's outbox, none delivered; returns the seconds it took."""
    started = time.monotonic()
    engine = create_store_engine(database)
    try:
        migrate(engine)
        for first in range(1, count + 1, SEED_PER_TRANSACTION):
            with Session(engine) as session:
                last = min(first + SEED_PER_TRANSACTION, count + 1)
                append_events(session=session, events=[sale_event(n) for n in range(first, last)])
                session.commit()
    finally:
        engine.dispose()
    return time.monotonic() - started


@contextlib.asynccontextmanager
async def fresh_cloud(folder: Path, stores: dict[str, str]) -> AsyncIterator[tuple[str, CloudServer]]:
    """A reference cloud of its own for one phase, serving ``stores`` (id -> token):
    yields its URL and process.  (Its admin token is made up and forgotten: the bench
    asks the cloud only what a store may.)"""
    cloud = ThrowawayCloud(folder, store_tokens=stores)
    cloud.write_config()
    say(f"cloud: starting the reference cloud on {cloud.url}…")
    await cloud.server.async_start()
    try:
        yield cloud.url, cloud.server
    finally:
        await cloud.server.async_stop()


async def measure_direct(folder: Path, database: Path, batch: int) -> dict[str, Any]:
    """The baseline: the backlog posted straight to the cloud, one batch after another."""
    token = new_secret()
    async with fresh_cloud(folder, {BASELINE_STORE: token}) as (url, server):
        say(f"baseline: posting the backlog straight to the cloud, {batch} events a batch…")
        client = CloudClient(base_url=url, store_id=BASELINE_STORE, token=token, timeout_s=60)
        engine = create_store_engine(database, readonly=True)
        cloud_cpu = _cpu(server.pid)
        round_trips: list[float] = []
        after, sent = 0, 0
        started = time.monotonic()
        try:
            while True:
                with Session(engine) as session:
                    seqs, encoded = encoded_events_after(
                        session=session, after=after, limit=batch, store_id=BASELINE_STORE
                    )
                    head = outbox_position(session=session).last_seq
                if not seqs:
                    break
                sent_at = time.monotonic()
                answer = await client.push(EncodedBatch(seqs[0], seqs[-1], len(seqs), encoded, head))
                round_trips.append(time.monotonic() - sent_at)
                sent += answer.contiguous_seq - after
                after = answer.contiguous_seq
            elapsed = time.monotonic() - started
        finally:
            await client.close()
            engine.dispose()
        round_trips.sort()
        return {
            "events": sent,
            "seconds": round(elapsed, 3),
            "events_per_s": round(sent / elapsed),
            "batch_p50_ms": round(percentile_ms(round_trips, 50), 2),
            "batch_p99_ms": round(percentile_ms(round_trips, 99), 2),
            "cloud_cpu_s": round(_cpu(server.pid) - cloud_cpu, 2),
        }


async def measure_drain(folder: Path, count: int, batch: int, *, seeded: Path | None = None) -> dict[str, Any]:
    token = new_secret()
    async with (
        bench_store(tills=1) as (store, tills),
        fresh_cloud(folder / "cloud", {BENCH_STORE: token}) as (url, server),
    ):
        store.cloud = {
            "mode": "push",
            "url": url,
            "token": token,
            "batch_events": batch,
            "fetch_inbound": False,
            "state_interval_s": 1,
        }
        database = store.state_dir / "storehub.db"
        if seeded is not None:
            database.parent.mkdir(parents=True, exist_ok=True)
            os.replace(seeded, database)
        else:
            say(f"seeding a backlog of {count:,} events…")
            seed_backlog(database, count)
        samples: list[tuple[float, int]] = []
        rss: list[int] = []
        hub_pid: list[int] = []
        cloud_cpu = _cpu(server.pid)
        say(f"drain: starting a hub with {count:,} events waiting…")
        sampler = asyncio.create_task(_sample(url, token, samples, rss, hub_pid))
        try:
            async with hub_process(store, tills[0], spawned=lambda p: hub_pid.append(p.pid)) as process:
                hub_cpu = _cpu(process.pid)
                ready_rss = _rss(process.pid)
                deadline = time.monotonic() + DRAIN_TIMEOUT_S
                while not samples or samples[-1][1] < count:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"the backlog did not drain within {DRAIN_TIMEOUT_S:g} s")
                    await asyncio.sleep(SAMPLE_INTERVAL_S)
                hub_cpu = _cpu(process.pid) - hub_cpu
                metrics = httpx.get(f"http://127.0.0.1:{store.api_port}/metrics", timeout=10).text
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
        cloud_cpu = _cpu(server.pid) - cloud_cpu
    # From the first sample showing events (or, when the first batches came at once, the
    # last showing none) to the first showing all: the end is at most one sampling
    # interval late, so the rate errs low.
    started = next(sample for sample in samples if sample[1] > 0)
    if started[1] > count // 2:
        started = max(sample for sample in samples if sample[1] == 0)
    first = started
    last = next(sample for sample in samples if sample[1] >= count)
    elapsed = max(last[0] - first[0], SAMPLE_INTERVAL_S)
    rss_mib = sorted(r / 2**20 for r in rss) or [0.0]
    return {
        "events": count,
        "seconds": round(elapsed, 3),
        "events_per_s": round((count - first[1]) / elapsed),
        "batch_p50_ms": _histogram_ms(metrics, "storehub_sync_push_seconds", 0.50),
        "batch_p99_ms": _histogram_ms(metrics, "storehub_sync_push_seconds", 0.99),
        "hub_cpu_s": round(hub_cpu, 2),
        "cloud_cpu_s": round(cloud_cpu, 2),
        "rss_mib": {
            "ready": round(ready_rss / 2**20, 1),
            "p50": round(rss_mib[len(rss_mib) // 2], 1),
            "max": round(rss_mib[-1], 1),
            "samples": len(rss),
        },
    }


async def _sample(url: str, token: str, samples: list[tuple[float, int]], rss: list[int], hub_pid: list[int]) -> None:
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=10) as http:
        while True:
            with contextlib.suppress(httpx.HTTPError, KeyError, IndexError):
                answer = await http.get(f"{url}/v1/stores/{BENCH_STORE}/position")
                samples.append((time.monotonic(), answer.json()["contiguous_seq"]))
            if hub_pid:
                if memory := _rss(hub_pid[0]):
                    rss.append(memory)
            await asyncio.sleep(SAMPLE_INTERVAL_S)


def _rss(pid: int) -> int:
    with contextlib.suppress(psutil.Error):
        return psutil.Process(pid).memory_info().rss
    return 0


def _cpu(pid: int | None) -> float:
    if pid is None:
        return 0.0
    with contextlib.suppress(psutil.Error):
        times = psutil.Process(pid).cpu_times()
        return times.user + times.system
    return 0.0


def _histogram_ms(text: str, name: str, quantile: float) -> float | None:
    """A quantile of a Prometheus histogram, interpolated within its bucket."""
    buckets: list[tuple[float, float]] = []
    for family in text_string_to_metric_families(text):
        if family.name == name:
            buckets = sorted(
                (float(sample.labels["le"]), sample.value)
                for sample in family.samples
                if sample.name.endswith("_bucket")
            )
    if not buckets or buckets[-1][1] == 0:
        return None
    rank = quantile * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return round(lower_bound * 1000, 1)
            share = (rank - lower_count) / (count - lower_count) if count > lower_count else 1.0
            return round((lower_bound + (bound - lower_bound) * share) * 1000, 1)
        lower_bound, lower_count = bound, count
    return None


def sync_table(report: dict[str, Any]) -> str:
    row = "{:<26}{:>9}{:>9}{:>10}{:>10}{:>10}{:>9}{:>10}"

    def number(value: float | None, places: int = 1) -> str:
        return "?" if value is None else f"{value:.{places}f}"

    lines = [
        f"storehub bench sync: a backlog drained to the reference cloud on 127.0.0.1, {report['batch']} events a batch, "
        f"gzip; {report['event_bytes']}-byte sale.completed events; {report['cpus']} CPU(s) shared by hub, cloud and bench",
        f"backlog seeded in {report['seed_s']:g} s; each phase has a fresh cloud; batch ms: send to the cloud's answer "
        "(drains: the hub's histogram, interpolated); hub CPU: from the hub ready to the backlog drained",
        row.format("phase", "events", "seconds", "events/s", "p50 ms", "p99 ms", "hub CPU", "cloud CPU"),
    ]
    b = report["baseline"]
    lines.append(
        row.format(
            "baseline (bench, no hub)", b["events"], f"{b['seconds']:.2f}", b["events_per_s"],
            number(b["batch_p50_ms"]), number(b["batch_p99_ms"]), "-", f"{b['cloud_cpu_s']:.1f} s",
        )
    )  # fmt: skip
    for key in ("small", "full"):
        d = report["drains"][key]
        lines.append(
            row.format(
                f"hub drains {d['events']:,}", d["events"], f"{d['seconds']:.2f}", d["events_per_s"],
                number(d["batch_p50_ms"]), number(d["batch_p99_ms"]), f"{d['hub_cpu_s']:.1f} s",
                f"{d['cloud_cpu_s']:.1f} s",
            )
        )  # fmt: skip
    small, full = report["drains"]["small"]["rss_mib"], report["drains"]["full"]["rss_mib"]
    r, g = report["ratio"], report["goals"]
    verdict = {True: "met", False: "NOT met"}
    lines += [
        f"hub/baseline events/s: {r['drain_vs_baseline']:.2f}x",
        f"hub RSS (MiB; sampled from its start): {report['small']:,} events: at ready {small['ready']}, "
        f"p50 {small['p50']}, max {small['max']}; {report['events']:,} events: at ready {full['ready']}, "
        f"p50 {full['p50']}, max {full['max']} "
        f"({full['samples']} samples)",
        f"peak RSS {report['events']:,} vs {report['small']:,} events: {r['rss_max']:.2f}x",
        "",
        f"drain {g['drain_events_per_s']:,} events/s (goal >= {g['drain_goal']:,}): {verdict[g['drain_met']]}",
        f"RSS flat (peak within {RSS_FLAT_TOLERANCE:.2f}x of the small backlog's): {verdict[g['rss_flat_met']]}",
    ]
    return "\n".join(lines)
