"""``storehub bench api``: the store API's product lookup, and the outbox's append rate.

Two measurements in one run, each beside a baseline taken in the same run:

1. **Lookup**: a throwaway store as in ``hub.bench`` — its own Mosquitto, the real hub
   as its own process on free loopback ports — fed the demo catalogue through the
   cloud's ``POST /api/v1/sync/inbound`` and the opening stock through
   ``POST /api/v1/stock/moves``.  Then N callers (a store's tills and kiosks), each an
   ``httpx.AsyncClient`` with one keep-alive connection, ask
   ``GET /api/v1/products/gtin/{gtin}`` for random barcodes of the catalogue: paced
   (each at a rate, as scanning tills do) and in a closed loop (capacity).  The
   baseline is ``GET /healthz`` at the same concurrency and pacing: the HTTP stack's
   floor with no authentication and no store work.  Beside them, the domain call alone
   (``StoreDomain.product``) in this process on the same catalogue, one thread: what
   the lookup costs without HTTP.
2. **Outbox**: in this process, a throwaway SQLite file made as the hub makes it
   (``create_store_engine`` + ``migrate``: WAL, ``synchronous=FULL``) and the store's
   ``StoreWriter``.  Single-event commits (one ``sale.completed`` per transaction,
   sequentially through ``run_sync``), then batched: many single-event writes in flight
   so the writer commits them together, and writes of 500 events each
   (``append_events``).  After each phase the outbox is checked to be gapless.

The load generator runs on the same machine as the hub and shares its CPUs, as may
other processes: the report says how many CPUs there are, the machine's load average,
how busy each side was, and the hub's CPU time per request, which other load barely
moves (latency it does).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlmodel import Session

from bus.passwords import new_secret
from hub.bench.harness import (
    PhaseTally,
    bench_store,
    cpu_count,
    hub_process,
    package_version,
    ratio,
    run_callers,
    say,
    stopped_by_sigterm,
    summarize,
)
from hub.db import create_store_engine, migrate
from hub.demo.catalogue import demo_inbound, demo_stock
from hub.store.domain import StoreDomain, apply_inbound
from hub.store.models import OutboxEvent
from hub.store.outbox import NewEvent, append_event, append_events, dump, outbox_position
from hub.store.schemas import InboundBatch, StockMoveCreate
from hub.store.stock import book_move
from hub.store.writer import MAX_BATCH, StoreWriter
from hub.throwaway import Client

#: The issue's goals.
LOOKUP_P99_GOAL_MS = 10.0
OUTBOX_GOAL_EVENTS_S = 20_000

DEFAULT_CALLERS = 50
#: Requests a second per caller: 50 tills and kiosks at 4 scans a second is 200 a second.
DEFAULT_RATE = 4.0

#: Events per write in the bulk variant of the batched outbox phase.
BULK_EVENTS = 500

#: Events in flight in the batched phases: two of the writer's batches, so one is
#: always waiting while the other commits.
OUTBOX_WINDOW_EVENTS = 2 * MAX_BATCH

#: The cloud client the bench adds to the hub's config, beside the bench tills.
CLOUD_CLIENT = "bench-cloud"

#: A lookup unanswered this long counts as an error.
HTTP_TIMEOUT_S = 5.0

#: The cloud's inbound batch applies a whole catalogue in one transaction.
SEED_TIMEOUT_S = 60.0

#: Opening stock moves in flight while seeding (the writer batches them).
SEED_CONCURRENCY = 20

LOOKUP_PATH = "/api/v1/products/gtin/{gtin}"
HEALTH_PATH = "/healthz"


# -- the lookup ----------------------------------------------------------------------


@dataclass
class CpuClock:
    """CPU seconds used by this process and, where found, the hub's process."""

    hub_pid: int | None

    def read(self) -> tuple[float, float | None]:
        return time.process_time(), process_cpu_seconds(self.hub_pid) if self.hub_pid else None


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` (Linux ``/proc``); None where unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def api_client(base_url: str, client_id: str, secret: str, *, timeout: float = HTTP_TIMEOUT_S) -> httpx.AsyncClient:
    """One caller: one keep-alive connection, the bench's bearer token, no proxies from the environment."""
    return httpx.AsyncClient(
        base_url=base_url,
        headers={"Authorization": f"Bearer {client_id}:{secret}"},
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        timeout=timeout,
        trust_env=False,
    )


async def seed_store(cloud: httpx.AsyncClient, till: httpx.AsyncClient, batch: InboundBatch) -> dict[str, int]:
    """The demo catalogue as the cloud sends it, then its opening stock as a till books it."""
    started = time.perf_counter()
    say(f"seed: {len(batch.products)} products, {len(batch.prices)} prices through /api/v1/sync/inbound…")
    answer = await cloud.post("/api/v1/sync/inbound", json=batch.model_dump(mode="json"), timeout=SEED_TIMEOUT_S)
    if answer.status_code != 200:
        raise RuntimeError(f"the hub refused the bench catalogue: {answer.status_code} {answer.text[:500]}")
    applied = answer.json()["applied"]
    if applied["products"] != len(batch.products) or applied["prices"] != len(batch.prices):
        raise RuntimeError(f"the hub applied only part of the bench catalogue: {answer.json()}")
    stock = demo_stock(batch)
    gate = asyncio.Semaphore(SEED_CONCURRENCY)

    async def receive(sku: str, quantity: Decimal) -> None:
        move = {"sku": sku, "kind": "receipt", "quantity": str(quantity), "reason": "bench opening stock"}
        async with gate:
            booked = await till.post("/api/v1/stock/moves", json=move, timeout=SEED_TIMEOUT_S)
        if booked.status_code != 200:
            raise RuntimeError(f"the hub refused a bench stock move: {booked.status_code} {booked.text[:500]}")

    say(f"seed: opening stock of {len(stock)} products through /api/v1/stock/moves…")
    await asyncio.gather(*(receive(sku, quantity) for sku, quantity in stock))
    return {"products": len(batch.products), "stocked": len(stock), "seed_s": round(time.perf_counter() - started, 2)}


def catalogue_gtins(batch: InboundBatch) -> list[str]:
    """The barcodes a till can scan: packaged goods (loose goods have none)."""
    return [product.gtin for product in batch.products if product.gtin]


async def measure_http_phase(
    name: str,
    callers: list[httpx.AsyncClient],
    path: Callable[[random.Random], str],
    *,
    seconds: float,
    warmup: float,
    rate: float = 0.0,
    cpu: CpuClock | None = None,
) -> dict[str, Any]:
    """Every caller GETs ``path(rng)`` in a loop (``hub.bench.run_callers``); an answer
    other than 200 counts as an error."""
    rngs = [random.Random(index) for index in range(len(callers))]
    cpu_at_start: tuple[float, float | None] | None = None

    async def get(index: int) -> bool:
        try:
            return (await callers[index].get(path(rngs[index]))).status_code == 200
        except httpx.HTTPError:
            return False

    def measuring() -> None:
        nonlocal cpu_at_start
        cpu_at_start = cpu.read() if cpu else None

    run = await run_callers(name, len(callers), get, seconds=seconds, warmup=warmup, rate=rate, on_measuring=measuring)
    phase = summarize(run.tally, run.measured_s)
    if cpu is not None and cpu_at_start is not None:
        (bench_before, hub_before), (bench_after, hub_after) = cpu_at_start, cpu.read()
        phase["bench_cpu"] = round((bench_after - bench_before) / run.window_s, 2)
        hub_s = hub_after - hub_before if hub_before is not None and hub_after is not None else None
        phase["hub_cpu"] = round(hub_s / run.window_s, 2) if hub_s is not None else None
        # The hub's CPU time per answered request: unlike latency, barely moved by other
        # processes competing for the machine.
        phase["hub_cpu_ms"] = (
            round(hub_s * 1000 / phase["requests"], 3) if hub_s is not None and run.tally.latencies else None
        )
    return phase


def side_by_side(lookup: dict[str, Any], health: dict[str, Any]) -> dict[str, float]:
    return {
        "throughput": ratio(lookup["throughput"], health["throughput"]),
        "p50": ratio(lookup["p50_ms"], health["p50_ms"]),
        "p99": ratio(lookup["p99_ms"], health["p99_ms"]),
    }


async def run_lookup_bench(
    *, callers: int = DEFAULT_CALLERS, rate: float = DEFAULT_RATE, seconds: float = 5.0, warmup: float = 1.0
) -> dict[str, Any]:
    """The real hub, seeded with the demo catalogue, under ``callers`` concurrent lookups.

    Paced at ``rate`` per caller (skipped when 0), then in a closed loop; ``/healthz``
    first each time, at the same concurrency and pacing."""
    if callers < 1 or seconds <= 0 or warmup < 0 or rate < 0:
        raise ValueError("need at least one caller, a positive measured time, a warm-up and a rate of 0 or more")
    batch = demo_inbound(time.time())
    gtins = catalogue_gtins(batch)
    cloud_secret = new_secret()

    def lookup_path(rng: random.Random) -> str:
        return LOOKUP_PATH.format(gtin=rng.choice(gtins))

    def health_path(rng: random.Random) -> str:
        return HEALTH_PATH

    async with bench_store(1) as (store, [till]):
        till_id, till_secret = next(iter(store.secrets.items()))
        store.clients.append(Client(CLOUD_CLIENT, "cloud", cloud_secret))
        base_url = f"http://127.0.0.1:{store.api_port}"
        async with hub_process(store, till) as hub, contextlib.AsyncExitStack() as clients:
            cloud = await clients.enter_async_context(api_client(base_url, CLOUD_CLIENT, cloud_secret))
            seeder = await clients.enter_async_context(api_client(base_url, till_id, till_secret))
            seeded = await seed_store(cloud, seeder, batch)
            cpu = CpuClock(hub.pid)
            pool = [
                await clients.enter_async_context(api_client(base_url, till_id, till_secret)) for _ in range(callers)
            ]
            phases: dict[str, dict[str, Any]] = {}
            for kind, pace in (("paced", rate), ("closed", 0.0)):
                if kind == "paced" and not rate:
                    continue
                health = await measure_http_phase(
                    f"{kind} healthz", pool, health_path, seconds=seconds, warmup=warmup, rate=pace, cpu=cpu
                )
                lookup = await measure_http_phase(
                    f"{kind} lookup", pool, lookup_path, seconds=seconds, warmup=warmup, rate=pace, cpu=cpu
                )
                phases[kind] = {"healthz": health, "lookup": lookup, "ratio": side_by_side(lookup, health)}
    return {
        "callers": callers,
        "rate": rate,
        "seconds": seconds,
        "warmup": warmup,
        "gtins": len(gtins),
        **seeded,
        **phases,
    }


def measure_domain_lookup(
    domain: StoreDomain, gtins: list[str], *, seconds: float, stop: threading.Event | None = None
) -> dict[str, Any]:
    """``StoreDomain.product`` in a loop on this thread: the lookup's cost without HTTP."""
    rng = random.Random(0)
    for gtin in gtins:  # every page the lookups touch in the cache, as in a warmed-up hub
        domain.product(gtin=gtin)
    tally = PhaseTally()
    cpu, started = time.thread_time(), time.perf_counter()
    while (sent := time.perf_counter()) - started < seconds and not stopping(stop):
        domain.product(gtin=rng.choice(gtins))
        tally.record(sent, time.perf_counter())
    used = time.thread_time() - cpu
    return summarize(tally, time.perf_counter() - started) | {
        "cpu_ms": round(used * 1000 / max(len(tally.latencies), 1), 3)
    }


# -- the outbox ----------------------------------------------------------------------


#: A receipt's lines as ``sales.record_receipt`` puts them in the event: sku, gtin, name, quantity, price, total.
SALE_LINES = [
    line | {"total": int((Decimal(line["quantity"]) * line["price"]).quantize(Decimal(1)))}
    for line in (
        {"sku": "MLK-014", "gtin": "4607034370153", "name": "Молоко 3,2% 930 мл", "quantity": "2.000", "price": 8990},
        {"sku": "BRD-003", "gtin": "4600682000251", "name": "Хлеб Бородинский", "quantity": "1.000", "price": 6490},
        {"sku": "VEG-021", "gtin": None, "name": "Огурцы, кг", "quantity": "0.755", "price": 21990},
    )
]
SALE_TOTAL = sum(line["total"] for line in SALE_LINES)


def sale_event(number: int) -> NewEvent:
    """A ``sale.completed`` as ``hub.store.sales`` writes it: three lines, paid by card, points earned.

    Built from shared parts, so the bench spends its time appending, not making payloads."""
    return NewEvent(
        "sale.completed",
        {
            "fiscal": {
                "device": "fiscal-1",
                "document_number": number,
                "fiscal_sign": 3_000_000_000 + number,
                "issued_at": "2025-03-14T10:21:07+03:00",
            },
            "total": SALE_TOTAL,
            "lines": SALE_LINES,
            "payments": [{"type": "card", "amount": SALE_TOTAL}],
            "loyalty": {"card": "7700123412345678", "accrued": SALE_TOTAL // 100, "redeemed": 0},
            "idempotency_key": f"till-07-{number:08d}",
        },
        client="till-07",
        device="fiscal-1",
    )


def event_bytes() -> int:
    return len(dump(sale_event(1).data).encode())


@dataclass
class OutboxCheck:
    count: int
    first_seq: int | None
    last_seq: int
    gapless: bool


def check_outbox(writer: StoreWriter) -> OutboxCheck:
    """Every seq from 1 to ``outbox_state.last_seq`` is there once (seq is the key)."""

    def work(session: Session) -> OutboxCheck:
        count, low, high = session.execute(
            select(func.count(), func.min(OutboxEvent.seq), func.max(OutboxEvent.seq))
        ).one()
        last = outbox_position(session=session).last_seq
        gapless = count == last and (high or 0) == last and (low == 1 if count else True)
        return OutboxCheck(count, low, last, gapless)

    return writer.run_sync(work)


def outbox_phase(
    writer: StoreWriter,
    *,
    seconds: float,
    events_per_write: int = 1,
    in_flight: int = 1,
    stop: threading.Event | None = None,
) -> dict[str, Any]:
    """Writes of ``events_per_write`` sale events, ``in_flight`` at a time, for ``seconds``.

    ``in_flight`` 1 is one transaction per write, each waited for: every commit pays
    its own fsync.  More in flight and the writer commits what is waiting together."""
    before = check_outbox(writer)
    commits_before = writer.commits
    numbers = iter(range(before.last_seq + 1, 10**12))
    pending: deque[tuple[float, Future[list[int]]]] = deque()
    seqs: list[int] = []
    tally = PhaseTally()

    def submit() -> None:
        events = [sale_event(next(numbers)) for _ in range(events_per_write)]
        if events_per_write == 1:
            event = events[0]
            future = writer.submit(lambda s: [append_event(session=s, event=event)])
        else:
            future = writer.submit(lambda s: append_events(session=s, events=events))
        pending.append((time.perf_counter(), future))

    def collect() -> None:
        sent, future = pending.popleft()
        seqs.extend(future.result())
        tally.record(sent, time.perf_counter())

    started = time.perf_counter()
    while time.perf_counter() - started < seconds and not stopping(stop):
        while len(pending) < in_flight:
            submit()
        collect()
    while pending:
        collect()
    elapsed = time.perf_counter() - started
    commits = writer.commits - commits_before
    after = check_outbox(writer)
    contiguous = sorted(seqs) == list(range(before.last_seq + 1, before.last_seq + 1 + len(seqs)))
    return {
        "events": len(seqs),
        "events_per_s": round(len(seqs) / elapsed),
        "writes": len(tally.latencies),
        "events_per_write": events_per_write,
        "in_flight": in_flight,
        "commits": commits,
        "events_per_commit": round(len(seqs) / commits, 1) if commits else 0.0,
        **tally.latency_ms(prefix="write_"),
        "seconds": round(elapsed, 3),
        "outbox_events": after.count,
        "last_seq": after.last_seq,
        "gapless": after.gapless and contiguous and after.last_seq == before.last_seq + len(seqs),
    }


def filesystem_of(path: Path) -> str:
    """The file system type ``path`` is on (``/proc/mounts``' longest matching mount point)."""
    best, kind = "", "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            fields = line.split()
            if len(fields) >= 3:
                point = fields[1].replace("\\040", " ")
                inside = str(path) == point or str(path).startswith(point.rstrip("/") + "/")
                if inside and len(point) > len(best):
                    best, kind = point, fields[2]
    return kind


@contextlib.contextmanager
def in_process_store(
    directory: Path | None = None, *, seeded: bool = True
) -> Iterator[tuple[StoreDomain, InboundBatch, Path]]:
    """A throwaway store database as the hub makes it, its writer running, seeded with the
    demo catalogue and stock (unless not ``seeded``); everything removed on the way out."""
    with tempfile.TemporaryDirectory(prefix="storehub-bench-api-", dir=directory) as folder:
        path = Path(folder) / "store.db"
        writer_engine = create_store_engine(path)
        reader_engine = create_store_engine(path, readonly=True)
        try:
            migrate(writer_engine)
            domain = StoreDomain(
                store_id="bench", writer_engine=writer_engine, reader_engine=reader_engine, accrual_percent=Decimal(1)
            )
            now = time.time()
            batch = demo_inbound(now)
            domain.writer.start()
            try:

                def seed(session: Session) -> None:
                    apply_inbound(session=session, batch=batch, now=now)
                    session.flush()
                    for sku, quantity in demo_stock(batch):
                        move = StockMoveCreate(sku=sku, kind="receipt", quantity=quantity, reason="bench")
                        book_move(session=session, move=move, client="bench", now=now)

                if seeded:
                    domain.writer.run_sync(seed)
                yield domain, batch, path
            finally:
                domain.writer.stop()
        finally:
            reader_engine.dispose()
            writer_engine.dispose()


class BenchStopped(RuntimeError):
    pass


def stopping(stop: threading.Event | None) -> bool:
    return stop is not None and stop.is_set()


def run_outbox_bench(
    *, seconds: float = 5.0, directory: Path | None = None, stop: threading.Event | None = None
) -> dict[str, Any]:
    """Domain lookups alone, then the outbox: single-event commits, then batched (one event
    a write, many in flight; then ``BULK_EVENTS`` a write), on one seeded store file.

    Runs on a thread of its own; ``stop`` set ends it early (Ctrl-C, SIGTERM) with ``BenchStopped``."""
    if seconds <= 0:
        raise ValueError("need a positive measured time")
    bulk_in_flight = max(OUTBOX_WINDOW_EVENTS // BULK_EVENTS, 1)

    def phase(announce: str, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        if stopping(stop):
            raise BenchStopped("the bench was stopped")
        say(announce)
        return run()

    with in_process_store(directory) as (domain, batch, path):
        writer, gtins = domain.writer, catalogue_gtins(batch)
        domain_lookup = phase(
            f"domain: StoreDomain.product in this process, one thread, {seconds:g} s…",
            lambda: measure_domain_lookup(domain, gtins, seconds=seconds, stop=stop),
        )
        for _ in range(20):  # the first commits open the WAL and warm the caches
            writer.run_sync(lambda s: append_event(session=s, event=sale_event(0)))
        single = phase(
            f"outbox: single-event commits for {seconds:g} s…",
            lambda: outbox_phase(writer, seconds=seconds, stop=stop),
        )
        batched = phase(
            f"outbox: single-event writes, {OUTBOX_WINDOW_EVENTS} in flight, for {seconds:g} s…",
            lambda: outbox_phase(writer, seconds=seconds, in_flight=OUTBOX_WINDOW_EVENTS, stop=stop),
        )
        bulk = phase(
            f"outbox: writes of {BULK_EVENTS} events, {bulk_in_flight} in flight, for {seconds:g} s…",
            lambda: outbox_phase(
                writer, seconds=seconds, events_per_write=BULK_EVENTS, in_flight=bulk_in_flight, stop=stop
            ),
        )
        if stopping(stop):
            raise BenchStopped("the bench was stopped")
        filesystem = filesystem_of(path)
    return {
        "domain_lookup": domain_lookup,
        "outbox": {
            "seconds": seconds,
            "directory": str(path.parent.parent),
            "filesystem": filesystem,
            "synchronous": "FULL",
            "journal_mode": "WAL",
            "event_bytes": event_bytes(),
            "single": single,
            "batched": batched,
            "bulk": bulk,
            "ratio": {
                "batched": ratio(batched["events_per_s"], single["events_per_s"]),
                "bulk": ratio(bulk["events_per_s"], single["events_per_s"]),
            },
        },
    }


# -- the bench -----------------------------------------------------------------------


def load_average() -> float | None:
    """The machine's one-minute load average, where the platform has one."""
    with contextlib.suppress(OSError, AttributeError):
        return round(os.getloadavg()[0], 2)
    return None


async def run_api_bench(
    *,
    callers: int = DEFAULT_CALLERS,
    rate: float = DEFAULT_RATE,
    seconds: float = 5.0,
    warmup: float = 1.0,
    outbox_dir: Path | None = None,
) -> dict[str, Any]:
    """Lookups through the real hub, then (with the hub stopped) the domain and the outbox
    in this process: the dict ``hub.bench.cli.api_table`` formats."""
    load_before = load_average()
    lookup = await run_lookup_bench(callers=callers, rate=rate, seconds=seconds, warmup=warmup)
    stop = threading.Event()
    try:
        with stopped_by_sigterm():
            in_process = await asyncio.to_thread(run_outbox_bench, seconds=seconds, directory=outbox_dir, stop=stop)
    finally:
        stop.set()  # cancelled (Ctrl-C, SIGTERM): the thread ends its phase and removes its files
    goal_phase = lookup.get("paced") or lookup["closed"]
    return {
        "callers": callers,
        "rate": rate,
        "seconds": seconds,
        "warmup": warmup,
        "cpus": cpu_count(),
        # Other processes on the machine compete for the same CPUs: a load average above
        # the CPU count before the bench means its numbers are not this store's alone.
        "load_average": {"before": load_before, "after": load_average()},
        "storehub": package_version("storehub"),
        "lookup": lookup,
        "domain_lookup": in_process["domain_lookup"],
        "outbox": in_process["outbox"],
        "goals": {
            "lookup_p99_ms": goal_phase["lookup"]["p99_ms"],
            "lookup_p99_goal_ms": LOOKUP_P99_GOAL_MS,
            "lookup_met": goal_phase["lookup"]["p99_ms"] <= LOOKUP_P99_GOAL_MS and goal_phase["lookup"]["errors"] == 0,
            "batched_events_per_s": in_process["outbox"]["batched"]["events_per_s"],
            "bulk_events_per_s": in_process["outbox"]["bulk"]["events_per_s"],
            "outbox_goal_events_per_s": OUTBOX_GOAL_EVENTS_S,
            "batched_met": in_process["outbox"]["batched"]["events_per_s"] >= OUTBOX_GOAL_EVENTS_S,
            "bulk_met": in_process["outbox"]["bulk"]["events_per_s"] >= OUTBOX_GOAL_EVENTS_S,
        },
    }
