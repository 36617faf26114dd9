"""``storehub bench fiscal``: receipts per minute through the hub to a fiscal register.

A throwaway store as in ``hub.bench`` — its own Mosquitto, the real hub as its own
process — with the simulated Shtrikh-M register on a pty, clocking bytes at the
register's real line speed (115200 baud unless told otherwise).  One till fiscalizes
10-line receipts back to back, each with a fresh idempotency key, as a busy checkout
would; each is journaled, printed, closed and read back from the fiscal storage.

Beside the measured rate stands the floor set by the wire: the bytes the hub and the
register actually exchanged per receipt (counted by the simulator: frames, ENQ probes,
ACKs) at ten bits a byte.  No driver can beat it on that line; the ratio shows what the
hub, its journal and the link's turn-arounds add.
"""

from __future__ import annotations

import time
from typing import Any

from devices.fiscal_register import ReceiptLine
from devices.sim.fiscal_register import BITS_PER_BYTE, SerialFiscalRegister
from hub.bench.harness import PhaseTally, bench_store, cpu_count, hub_process, package_version, say, wait_until_online

REGISTER = "fiscal-1"

#: The register's usual line speed (the factory sets 4800; shops set the fastest).
DEFAULT_BAUDRATE = 115200

#: A receipt's answer takes under a second at 115200 baud; this is a stuck register.
RECEIPT_TIMEOUT_S = 30.0

#: Receipts before measuring: the first opens the shift and warms every path up.
WARMUP_RECEIPTS = 2


def bench_receipt(lines: int = 10) -> dict[str, Any]:
    """A grocery receipt: Cyrillic names, two tax groups, weighed and counted items, cash and card."""
    items = [
        {
            "name": f"Товар №{n} — молочная продукция" if n % 2 else f"Товар №{n}, весовой, кг",
            "quantity": 1 if n % 2 else "0.755",
            "price": 5990 + 100 * n,
            "tax_group": 1 + n % 2,
            "sku": f"SKU-{n:04d}",
        }
        for n in range(1, lines + 1)
    ]
    total = sum(ReceiptLine.model_validate(item).total for item in items)
    card = total // 2
    return {
        "lines": items,
        "payments": [{"type": "card", "amount": card}, {"type": "cash", "amount": total - card + 1000}],
    }


async def run_fiscal_bench(*, seconds: float, lines: int = 10, baudrate: int = DEFAULT_BAUDRATE) -> dict[str, Any]:
    if seconds <= 0 or lines < 1:
        raise ValueError("need a positive measured time and at least one line")
    receipt = bench_receipt(lines)
    async with bench_store(1) as (store, [till]):
        register = SerialFiscalRegister(store.directory / "dev" / "usb-SHTRIH-M_FR-if00", baudrate=baudrate)
        store.devices.append(
            {"id": REGISTER, "kind": "fiscal_register", "port": str(register.link), "options": {"baudrate": baudrate}}
        )
        try:
            register.start()
            async with hub_process(store, till):
                await wait_until_online(till, [REGISTER])
                for n in range(WARMUP_RECEIPTS):
                    await fiscalize(till, receipt, f"warmup-{n}")
                say(f"fiscal: one till, {lines}-line receipts at {baudrate} baud for {seconds:g} s…")
                line = register.simulator
                bytes_before = line.bytes_received + line.bytes_sent
                printed_before = len(register.receipts())
                tally = PhaseTally()
                started = time.perf_counter()
                while time.perf_counter() - started < seconds:
                    sent = time.perf_counter()
                    await fiscalize(till, receipt, f"bench-{len(tally.latencies)}")
                    tally.record(sent, time.perf_counter())
                measured = time.perf_counter() - started
                wire_bytes = line.bytes_received + line.bytes_sent - bytes_before
                printed = len(register.receipts()) - printed_before
        finally:
            if register.running:
                register.stop()
    receipts = len(tally.latencies)
    if printed != receipts:
        raise RuntimeError(f"the register printed {printed} receipts for {receipts} answered")
    per_receipt_bytes = wire_bytes / receipts
    wire_s = per_receipt_bytes * BITS_PER_BYTE / baudrate
    rate = receipts / measured * 60
    floor_rate = 60 / wire_s
    return {
        "lines": lines,
        "baudrate": baudrate,
        "seconds": seconds,
        "cpus": cpu_count(),
        "storehub": package_version("storehub"),
        "receipts": receipts,
        "receipts_per_min": round(rate, 1),
        **tally.latency_ms(),
        "wire_bytes_per_receipt": round(per_receipt_bytes),
        "wire_ms_per_receipt": round(wire_s * 1000, 1),
        "wire_floor_receipts_per_min": round(floor_rate, 1),
        "ratio_to_floor": round(rate / floor_rate, 3),
    }


async def fiscalize(till: Any, receipt: dict[str, Any], key: str) -> None:
    response = await till.request(REGISTER, "fiscalize", receipt, idempotency_key=key, timeout=RECEIPT_TIMEOUT_S)
    if not response.ok:
        raise RuntimeError(f"the register refused a bench receipt: {response.error}")


def fiscal_table(report: dict) -> str:
    return "\n".join(
        [
            f"storehub bench fiscal: one till, {report['lines']}-line receipts, register line at "
            f"{report['baudrate']} baud, {report['seconds']:g} s, {report['cpus']} CPU(s)",
            f"{'':<22}{'receipts':>9}{'per min':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}",
            f"{'through the hub':<22}{report['receipts']:>9}{report['receipts_per_min']:>9.0f}"
            f"{report['p50_ms']:>9.1f}{report['p99_ms']:>9.1f}{report['max_ms']:>9.1f}",
            f"{'wire floor':<22}{'':>9}{report['wire_floor_receipts_per_min']:>9.0f}"
            f"{report['wire_ms_per_receipt']:>9.1f}",
            f"{report['wire_bytes_per_receipt']} bytes on the wire per receipt; "
            f"hub/floor: {report['ratio_to_floor']:.2f}x the floor's rate",
        ]
    )
