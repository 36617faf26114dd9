"""``storehub bench scan``: scans from many scanners reaching their tills, alone and beside receipts printing."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bus.client import StoreHubClient
from devices.gtin import gtin_check_digit
from devices.sim.escpos_printer import EscposPrinterSimulator
from devices.sim.scanner import SerialScannerSimulator
from hub.bench.harness import (
    REQUEST_TIMEOUT_S,
    PhaseTally,
    bench_store,
    cpu_count,
    hub_process,
    next_turn,
    package_version,
    ratio,
    say,
    stagger,
    wait_until_online,
)

#: In-store GTIN-13s (prefix 2) numbered from here, so every scan of a run is distinct.
SCAN_CODE_BASE = 200_000_000_000

#: A scan not at its till within this long counts as an error.
SCAN_TIMEOUT_S = 5.0


def scan_code(number: int) -> str:
    body = f"{SCAN_CODE_BASE + number:012d}"
    return body + str(gtin_check_digit(body))


class ScanInbox:
    """A till's scans, matched to the code it is waiting for.  Subscribed once, up
    front: a subscription made just before a scan could miss it."""

    def __init__(self, till: StoreHubClient) -> None:
        self.till = till
        self.waiting: dict[str, asyncio.Future[float]] = {}
        till.on_event(self._arrived)

    def _arrived(self, event: Any) -> None:
        future = self.waiting.get(event.data.get("code", "")) if event.type == "scan" else None
        if future is not None and not future.done():
            future.set_result(time.perf_counter())


async def measure_scans(
    name: str,
    pairs: list[tuple[ScanInbox, SerialScannerSimulator]],
    *,
    seconds: float,
    warmup: float,
    rate: float = 0.0,
) -> dict[str, Any]:
    """Each scanner scans, waits until its till has the code, scans again.

    Latency runs from the simulator writing the code on its serial line to the till
    receiving the ``scan`` event: the hub's serial read, decoding and the bus included.
    """
    numbers = iter(range(10**9))
    measure_from = time.perf_counter() + warmup
    stop_at = measure_from + seconds
    tally = PhaseTally(measure_from=measure_from)

    async def scan_loop(inbox: ScanInbox, scanner: SerialScannerSimulator, index: int) -> None:
        await stagger(index, len(pairs), rate)
        while (sent := time.perf_counter()) < stop_at:
            code = scan_code(next(numbers))
            arrival = inbox.waiting[code] = asyncio.get_running_loop().create_future()
            scanner.scan(code)
            try:
                received = await asyncio.wait_for(arrival, SCAN_TIMEOUT_S)
                ok = True
            except TimeoutError:
                received, ok = time.perf_counter(), False
            inbox.waiting.pop(code, None)
            tally.record(sent, received, ok=ok)
            await next_turn(sent, rate)

    pace = f" at {rate:g} scans/s each" if rate else ""
    say(f"{name}: {len(pairs)} scanner(s) scanning{pace} for {warmup:g} s warm-up + {seconds:g} s…")
    await asyncio.gather(*(scan_loop(inbox, scanner, i) for i, (inbox, scanner) in enumerate(pairs)))
    return {
        "scans": len(tally.latencies),
        "scans_per_s": round(len(tally.latencies) / seconds, 1),
        **tally.latency_ms((50, 90, 99)),
        "errors": tally.errors,
    }


#: The receipt the print phase sends: a short sale, as most are.
BENCH_RECEIPT = [
    {"type": "text", "text": "Магазин у дома", "bold": True, "align": "center"},
    {"type": "kv", "key": "Молоко 1л", "value": "89.90"},
    {"type": "kv", "key": "Хлеб", "value": "45.00"},
    {"type": "line"},
    {"type": "kv", "key": "ИТОГО", "value": "134.90"},
    {"type": "barcode", "code": "4601234567893"},
    {"type": "cut"},
]


async def measure_prints(tills: list[StoreHubClient], *, seconds: float) -> dict[str, Any]:
    """Tills printing receipts on one printer as fast as it takes them."""
    tally = PhaseTally()
    stop_at = time.perf_counter() + seconds

    async def print_loop(till: StoreHubClient) -> None:
        while (sent := time.perf_counter()) < stop_at:
            response = await till.request("printer-1", "print", {"blocks": BENCH_RECEIPT}, timeout=REQUEST_TIMEOUT_S)
            tally.record(sent, time.perf_counter(), ok=response.ok)

    say(f"printing: {len(tills)} till(s) printing receipts for {seconds:g} s…")
    await asyncio.gather(*(print_loop(till) for till in tills))
    return {
        "receipts": len(tally.latencies),
        "receipts_per_s": round(len(tally.latencies) / seconds, 1),
        **tally.latency_ms(),
        "errors": tally.errors,
    }


async def run_scan_bench(*, scanners: int, seconds: float, warmup: float, rate: float = 0.0) -> dict[str, Any]:
    """One scanner alone, then every scanner at once, each claimed by its own till;
    then the tills printing receipts on one simulated network printer."""
    if scanners < 1 or seconds <= 0 or warmup < 0 or rate < 0:
        raise ValueError("need at least one scanner, a positive measured time and a warm-up of 0 s or more")
    async with bench_store(scanners) as (store, tills):
        simulators = [SerialScannerSimulator(store.directory / "dev" / f"scanner-{n}") for n in range(1, scanners + 1)]
        printer = EscposPrinterSimulator()
        await printer.start()
        try:
            for simulator in simulators:
                simulator.start()
            store.devices += [
                {"id": f"scanner-{n}", "kind": "scanner", "driver": "serial", "port": str(sim.link)}
                for n, sim in enumerate(simulators, start=1)
            ]
            store.devices.append(
                {"id": "printer-1", "kind": "receipt_printer", "driver": "network", "port": printer.address}
            )
            async with hub_process(store, tills[0]):
                pairs = [(ScanInbox(till), sim) for till, sim in zip(tills, simulators, strict=True)]
                for n, till in enumerate(tills, start=1):
                    claim = await till.request(f"scanner-{n}", "claim", {"lease_s": 600})
                    if not claim.ok:
                        raise RuntimeError(f"bench till could not claim scanner-{n}: {claim.error}")
                await wait_until_online(tills[0], [f"scanner-{n}" for n in range(1, scanners + 1)])
                alone = await measure_scans("one scanner", pairs[:1], seconds=seconds, warmup=warmup, rate=rate)
                together = await measure_scans(f"{scanners} scanners", pairs, seconds=seconds, warmup=warmup, rate=rate)
                await wait_until_online(tills[0], ["printer-1"])
                prints = await measure_prints(tills, seconds=seconds)
                rendered = len(printer.receipts)
                if rendered < prints["receipts"]:
                    raise RuntimeError(f"the printer rendered {rendered} receipts of {prints['receipts']} answered")
        finally:
            await printer.stop()
            for simulator in simulators:
                if simulator.running:
                    simulator.stop()
    return {
        "scanners": scanners,
        "rate": rate,
        "seconds": seconds,
        "warmup": warmup,
        "cpus": cpu_count(),
        "storehub": package_version("storehub"),
        "alone": alone,
        "together": together,
        "prints": prints,
        "ratio": {"p50": ratio(together["p50_ms"], alone["p50_ms"]), "p99": ratio(together["p99_ms"], alone["p99_ms"])},
    }
