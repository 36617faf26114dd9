"""``storehub bench labels``: a manager prints a long run of shelf labels while the
tills print receipts on the same hub.

A throwaway store as in ``hub.bench`` — its own Mosquitto, the real hub as its own
process, the reference cloud beside it — with the simulated Zebra (ZPL II) on TCP,
its link clocked at a set speed as a serial line or a slow network would be, and the
simulated ESC/POS receipt printer.  In one run:

1. **price to queue**: the head office publishes a new product and its price in the
   reference cloud; the time until its label stands in the store's queue (REST), a few
   times over.
2. **receipts alone**: every till prints short receipts back to back: the baseline.
3. **receipts during the batch**: the same while the manager prints the whole queue
   (``print_labels`` with ``queue``); the goal is a p99 within 1.2x of the baseline,
   as the label printer yields between tags.
4. **the batch**: labels a minute from the request to its answer, beside the floor the
   link sets (the bytes the simulator received over the link's speed).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from bus.client import StoreHubClient
from bus.passwords import new_secret
from devices.sim.escpos_printer import EscposPrinterSimulator
from devices.sim.zpl_printer import ZplPrinterSimulator
from hub.bench.harness import (
    BENCH_STORE,
    CONNECT_TIMEOUT_S,
    PhaseTally,
    bench_store,
    cpu_count,
    hub_process,
    package_version,
    ratio,
    say,
    wait_until_online,
)
from hub.throwaway import Client, ThrowawayCloud, ThrowawayStore, shelf_products

LABEL_PRINTER = "labels-1"
RECEIPT_PRINTER = "printer-1"
MANAGER = Client("bench-manager", "manager")

#: A label printer on a 115200-baud serial line (ten bits a byte); 0 leaves it unclocked.
DEFAULT_LINK_BYTES_PER_S = 11_520

#: The goal: receipts during a batch within this factor of the p99 without it.
RECEIPT_P99_GOAL = 1.2

#: A receipt unanswered this long counts as an error.
RECEIPT_TIMEOUT_S = 10.0

#: How many times the price-to-queue path is timed.
PRICE_SAMPLES = 5

#: How often the bench looks at the queue while it waits for a label.
QUEUE_POLL_S = 0.02

#: A price that never reaches the queue, or a batch that never ends.
PRICE_TIMEOUT_S = 60.0
BATCH_TIMEOUT_S = 3600.0

RECEIPT = [
    {"type": "text", "text": "Магазин «Ромашка»"},
    {"type": "text", "text": "Молоко 1л                           89.90"},
    {"type": "text", "text": "ИТОГО                               89.90"},
    {"type": "cut"},
]


async def run_labels_bench(
    *, labels: int, tills: int, seconds: float, link_bytes_per_s: int = DEFAULT_LINK_BYTES_PER_S
) -> dict[str, Any]:
    if labels < 1 or tills < 1 or seconds <= 0 or link_bytes_per_s < 0:
        raise ValueError("need at least one label and one till, a positive time and a link speed of 0 or more")
    zebra, receipts = ZplPrinterSimulator(dpmm=8), EscposPrinterSimulator()
    zebra.link_bytes_per_s = link_bytes_per_s or None
    async with bench_store(tills, (MANAGER,)) as (store, connected):
        cloud = ThrowawayCloud(store.directory / "cloud", store_tokens={BENCH_STORE: new_secret()})
        cloud.write_config()
        say(f"cloud: starting the reference cloud on {cloud.url}…")
        await cloud.server.async_start()
        await zebra.start()
        await receipts.start()
        try:
            plug_in(store, cloud, zebra, receipts)
            manager = StoreHubClient(
                store=BENCH_STORE, client_id=MANAGER.id, secret=MANAGER.secret, address=store.address
            )
            await manager.connect(CONNECT_TIMEOUT_S)
            try:
                async with (
                    hub_process(store, connected[0]),
                    httpx.AsyncClient(base_url=store.api_url, headers=store.headers(MANAGER.id), timeout=10) as api,
                ):
                    await wait_until_online(connected[0], [LABEL_PRINTER, RECEIPT_PRINTER])
                    report = await measure(cloud, api, manager, connected, zebra, labels=labels, seconds=seconds)
            finally:
                await manager.close()
        finally:
            await zebra.stop()
            await receipts.stop()
            await cloud.server.async_stop()
    return {
        "labels": labels,
        "tills": tills,
        "seconds": seconds,
        "link_bytes_per_s": link_bytes_per_s,
        "cpus": cpu_count(),
        "storehub": package_version("storehub"),
        "goal_receipt_p99_ratio": RECEIPT_P99_GOAL,
    } | report


def plug_in(store: ThrowawayStore, cloud: ThrowawayCloud, zebra: ZplPrinterSimulator, receipts: Any) -> None:
    store.cloud = cloud.hub_section(BENCH_STORE)
    store.devices += [
        {"id": LABEL_PRINTER, "kind": "label_printer", "port": f"tcp:{zebra.address}",
         "options": {"profile": "zebra-zd421-203"}},
        {"id": RECEIPT_PRINTER, "kind": "receipt_printer", "driver": "network", "port": receipts.address,
         "model": "TM-T88V"},
    ]  # fmt: skip


async def measure(
    cloud: ThrowawayCloud,
    api: httpx.AsyncClient,
    manager: StoreHubClient,
    tills: list[StoreHubClient],
    zebra: ZplPrinterSimulator,
    *,
    labels: int,
    seconds: float,
) -> dict[str, Any]:
    say(f"labels: timing a price from the cloud to the label queue, {PRICE_SAMPLES} times…")
    price_ms = [await price_to_queue(cloud, api, labels + n) for n in range(PRICE_SAMPLES)]
    await publish_and_wait(cloud, api, 0, labels - PRICE_SAMPLES if labels > PRICE_SAMPLES else 0, labels)
    say(f"receipts: {len(tills)} tills printing receipts for {seconds:g} s, no batch…")
    alone = await receipts_for(tills, seconds)
    say(f"labels: printing {labels} labels while {len(tills)} tills print receipts…")
    bytes_before = zebra.bytes_received
    sent = time.perf_counter()
    batch = asyncio.create_task(
        manager.request(LABEL_PRINTER, "print_labels", {"queue": {"limit": labels}}, timeout=BATCH_TIMEOUT_S)
    )
    during = await receipts_for(tills, seconds, until_done=batch)
    outlasted = batch.done()
    answer = await batch
    batch_s = time.perf_counter() - sent
    if not answer.ok or answer.result is None:
        raise RuntimeError(f"the label printer refused the bench's batch: {answer.error}")
    printed = answer.result["printed"]
    wire_bytes = zebra.bytes_received - bytes_before
    return {
        "price_to_queue_ms": {"p50": median(price_ms), "max": round(max(price_ms), 1)},
        "receipts_alone": alone,
        "receipts_during_batch": during,
        "receipt_p99_ratio": ratio(during["p99_ms"], alone["p99_ms"]),
        "batch_ended_before_the_receipts": outlasted,
        "printed": printed,
        "batch_s": round(batch_s, 2),
        "labels_per_min": round(printed / batch_s * 60, 1),
        "wire_bytes_per_label": round(wire_bytes / printed),
        "wire_floor_labels_per_min": (
            round(printed / (wire_bytes / zebra.link_bytes_per_s) * 60, 1) if zebra.link_bytes_per_s else None
        ),
    }


async def price_to_queue(cloud: ThrowawayCloud, api: httpx.AsyncClient, n: int) -> float:
    """One product published in the cloud; milliseconds until its label is queued."""
    before = await queued(api)
    started = time.perf_counter()
    await publish_and_wait(cloud, api, n, 1, before + 1)
    return (time.perf_counter() - started) * 1000


async def publish_and_wait(cloud: ThrowawayCloud, api: httpx.AsyncClient, first: int, count: int, total: int) -> None:
    if count:
        products, prices = shelf_products(count, first)
        await asyncio.to_thread(cloud.publish, BENCH_STORE, products=products, prices=prices)
    deadline = time.monotonic() + PRICE_TIMEOUT_S
    while await queued(api) < total:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the label queue did not reach {total} within {PRICE_TIMEOUT_S:g} s")
        await asyncio.sleep(QUEUE_POLL_S)


async def queued(api: httpx.AsyncClient) -> int:
    answer = await api.get("/api/v1/labels", params={"limit": 1})
    answer.raise_for_status()
    return int(answer.json()["count"])


async def receipts_for(
    tills: list[StoreHubClient], seconds: float, *, until_done: asyncio.Task | None = None
) -> dict[str, Any]:
    """Every till prints receipts back to back for ``seconds`` (or until the batch ends)."""
    tally = PhaseTally()
    started = time.perf_counter()

    def going() -> bool:
        return time.perf_counter() - started < seconds and not (until_done is not None and until_done.done())

    async def till_loop(till: StoreHubClient) -> None:
        while going():
            sent = time.perf_counter()
            answer = await till.request(RECEIPT_PRINTER, "print", {"blocks": RECEIPT}, timeout=RECEIPT_TIMEOUT_S)
            tally.record(sent, time.perf_counter(), ok=answer.ok)

    await asyncio.gather(*(till_loop(till) for till in tills))
    measured = time.perf_counter() - started
    return {"receipts": len(tally.latencies), "errors": tally.errors, "seconds": round(measured, 2)} | {
        key: round(value, 1) for key, value in tally.latency_ms().items()
    }


def median(values: list[float]) -> float:
    ordered = sorted(values)
    return round(ordered[len(ordered) // 2], 1)


def labels_table(report: dict[str, Any]) -> str:
    link = f"{report['link_bytes_per_s']} bytes/s" if report["link_bytes_per_s"] else "unclocked"
    alone, during = report["receipts_alone"], report["receipts_during_batch"]
    floor = report["wire_floor_labels_per_min"]
    lines = [
        f"storehub bench labels: {report['labels']} labels to a simulated Zebra (link {link}), "
        f"{report['tills']} tills printing receipts, {report['cpus']} CPU(s)",
        f"price published in the cloud → label in the queue: p50 {report['price_to_queue_ms']['p50']:.0f} ms, "
        f"max {report['price_to_queue_ms']['max']:.0f} ms",
        f"{'receipts':<26}{'count':>7}{'errors':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}",
    ]
    for name, phase in (("alone", alone), ("during the batch", during)):
        lines.append(
            f"{name:<26}{phase['receipts']:>7}{phase['errors']:>8}"
            f"{phase['p50_ms']:>9.1f}{phase['p99_ms']:>9.1f}{phase['max_ms']:>9.1f}"
        )
    verdict = "met" if report["receipt_p99_ratio"] <= report["goal_receipt_p99_ratio"] else "MISSED"
    lines += [
        f"receipt p99 during/alone: {report['receipt_p99_ratio']:.2f}x (goal ≤ {report['goal_receipt_p99_ratio']}x: "
        f"{verdict})",
        f"batch: {report['printed']} labels in {report['batch_s']:.1f} s = {report['labels_per_min']:.0f} labels/min; "
        f"{report['wire_bytes_per_label']} bytes a label"
        + (
            f"; the link's floor {floor:.0f} labels/min (hub/floor {report['labels_per_min'] / floor:.2f}x)"
            if floor
            else ""
        ),
    ]
    return "\n".join(lines)
